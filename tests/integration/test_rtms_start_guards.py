"""One guard list for every way RTMS can be started: an erased meeting is never captured again, whether an
operator asks in the admin or through the API, or the reconciler finds it live without a stream."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.urls import reverse

from compliance.erasure import meeting_erase
from reconciler.services import reconcile_account
from regions.models import Region
from regions.services import region_groups_sync
from rtms.models import Meeting, ZoomAccount
from rtms.zoom_clients import zoom_api_for
from tests.integration.api_support import MakeApiClient, fresh_throttles_fixture, make_api_client_fixture  # noqa: F401
from tests.integration.conftest import EU_ALIAS, MakeMeeting
from zoomsim.testing import SimServer

pytestmark = pytest.mark.django_db(databases=["default", EU_ALIAS])


@pytest.fixture
def account() -> ZoomAccount:
    account, _ = ZoomAccount.objects.get_or_create(zoom_account_id="test-account")
    return account


@pytest.fixture
def erased_live_meeting(
    sim: SimServer, eu: Region, account: ZoomAccount, make_meeting: MakeMeeting
) -> Meeting:
    """Live at Zoom and routed to the EU, never captured, then erased on request (no stream, so allowed)."""
    created = sim.client.create_meeting("anna@eu.example.com", rtms="api")
    meeting = make_meeting(
        eu, zoom_uuid=created["meeting_uuid"], zoom_meeting_id=int(created["meeting_id"]), account=account
    )
    meeting_erase(meeting, actor="dora", reason="DSR-9", source_ip=None)
    return meeting


def _start_calls(sim: SimServer, meeting: Meeting) -> list[dict[str, Any]]:
    entries = sim.client.ledger(kind="rtms.action", meeting_uuid=meeting.zoom_uuid)
    return [e for e in entries if e["action"] == "start"]


def test_an_erased_meeting_is_not_started_when_an_operator_asks_in_the_admin(
    sim: SimServer, erased_live_meeting: Meeting
) -> None:
    region_groups_sync()
    user = User.objects.create_user("otto", password="pw-123456", is_staff=True)
    user.groups.add(Group.objects.get(name="compliance-eu-central"))
    user.user_permissions.add(Permission.objects.get(codename="control_rtms"))
    client = Client()
    client.force_login(user)
    page = client.post(
        reverse("admin:rtms_meeting_changelist"),
        {
            "action": "start_rtms",
            "_selected_action": [erased_live_meeting.pk],
            "confirm": "yes",
            "reason": "ops ticket 4",
        },
        follow=True,
    )
    assert page.status_code == 200
    assert "erased on request" in page.content.decode()
    assert _start_calls(sim, erased_live_meeting) == []
    assert Meeting.objects.get(pk=erased_live_meeting.pk).rtms_start_requested_at is None


def test_an_erased_meeting_is_not_started_when_an_operator_asks_through_the_api(
    sim: SimServer, erased_live_meeting: Meeting, make_api_client: MakeApiClient
) -> None:
    client = make_api_client("eu-central", role="read-write")
    response = client.post(
        f"/api/v1/meetings/{erased_live_meeting.pk}/rtms/start/", {"reason": "ticket 42"}, "application/json"
    )
    assert response.status_code == 409, response.content
    assert "erased on request" in response.json()["error"]["message"]
    assert _start_calls(sim, erased_live_meeting) == []


def test_an_erased_meeting_is_not_started_when_the_reconciler_finds_it_live(
    sim: SimServer, erased_live_meeting: Meeting, account: ZoomAccount
) -> None:
    run = reconcile_account(account, trigger="test", api_factory=zoom_api_for)
    assert not any(kind.startswith("start_rtms") for kind in run.repairs), run.repairs
    assert _start_calls(sim, erased_live_meeting) == []
