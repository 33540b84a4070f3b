"""Issue #20, item 9: behind a reverse proxy the audit log recorded the proxy's address, not the client's.
With TRUSTED_PROXIES, the client's address comes from X-Forwarded-For; from any other peer the header is
ignored, so a client cannot forge it."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from controlplane.client_ip import resolve_client, scope_client_ip, trusted_networks
from regions.access import group_name_for
from regions.models import Region
from rtms.models import AuditLog
from tests.integration.conftest import EU_ALIAS, MakeMeeting

PROXIES = trusted_networks(["10.0.0.0/8", "192.0.2.7"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("10.1.2.3", "203.0.113.5", "203.0.113.5"),  # one trusted proxy
        ("10.1.2.3", "203.0.113.5, 192.0.2.7", "203.0.113.5"),  # two trusted proxies
        ("10.1.2.3", "1.2.3.4, 203.0.113.5", "203.0.113.5"),  # the client's own forged entry is left of it
        ("198.51.100.9", "203.0.113.5", "198.51.100.9"),  # an untrusted peer's header is ignored
        ("10.1.2.3", "not-an-address", "10.1.2.3"),  # malformed: the proxy is as far as it is known
        ("10.1.2.3", "10.9.9.9", "10.9.9.9"),  # only proxies: the left-most is the origin
        ("10.1.2.3", None, "10.1.2.3"),
        ("2001:db8::1", "203.0.113.5", "2001:db8::1"),
    ],
)
def test_the_client_is_the_right_most_untrusted_forwarded_address(
    peer: str, forwarded: str | None, client: str
) -> None:
    assert resolve_client(peer, forwarded, PROXIES) == client


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert resolve_client("10.1.2.3", "203.0.113.5", ()) == "10.1.2.3"


def test_a_typo_in_trusted_proxies_stops_the_process() -> None:
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        trusted_networks(["10.0.0.0/8", "10.0.0.300"])


def test_a_websocket_scope_is_resolved_the_same_way(settings: Any) -> None:
    settings.TRUSTED_PROXIES = PROXIES
    scope = {"client": ("10.1.2.3", 5555), "headers": [(b"x-forwarded-for", b"203.0.113.5")]}
    assert scope_client_ip(scope) == "203.0.113.5"


@pytest.mark.django_db(databases=["default", EU_ALIAS])
def test_an_audit_row_records_the_client_behind_a_trusted_proxy(
    settings: Any, eu: Region, make_meeting: MakeMeeting
) -> None:
    settings.TRUSTED_PROXIES = PROXIES
    meeting = make_meeting(eu, topic="Board")
    user = User.objects.create_user("eva", password="pw-123456", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name=group_name_for("eu-central"))[0])
    client = Client()
    client.force_login(user)
    response = client.get(f"/live/{meeting.pk}/", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert response.status_code == 200
    assert AuditLog.objects.get(action="transcript.view").source_ip == "203.0.113.5"
