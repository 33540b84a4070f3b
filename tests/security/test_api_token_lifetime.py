"""Issue #20, item 7: API tokens never expired, and a rotation cut the old token off at once. Tokens now
expire API_TOKEN_LIFETIME_DAYS after they are issued; a rotation keeps the old one for
API_TOKEN_ROTATION_OVERLAP_HOURS; a revocation ends both at once, audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from api.models import ApiClient
from api.services import api_client_authenticate, api_client_create, api_client_token_rotate
from controlplane.clock import ManualClock
from rtms.models import AuditLog

pytestmark = pytest.mark.django_db


def _clock(after: timedelta = timedelta(0)) -> ManualClock:
    return ManualClock(timezone.now() + after)


def test_a_token_expires_after_its_lifetime(settings: Any) -> None:
    settings.API_TOKEN_LIFETIME_DAYS = 30
    client, token = api_client_create("expiring", region_codes=[], quarantine_access=True)
    assert client.token_expires_at is not None
    assert api_client_authenticate(token, clock=_clock(timedelta(days=29))) == client
    assert api_client_authenticate(token, clock=_clock(timedelta(days=31))) is None


def test_a_rotation_keeps_the_old_token_for_the_overlap_only(settings: Any) -> None:
    settings.API_TOKEN_ROTATION_OVERLAP_HOURS = 24
    client, old = api_client_create("rotating", region_codes=[], quarantine_access=True)
    new = api_client_token_rotate(client)
    assert api_client_authenticate(new) == client
    assert api_client_authenticate(old, clock=_clock(timedelta(hours=23))) == client
    assert api_client_authenticate(old, clock=_clock(timedelta(hours=25))) is None
    assert api_client_authenticate(new, clock=_clock(timedelta(hours=25))) == client


def test_without_an_overlap_the_old_token_stops_at_once(settings: Any) -> None:
    settings.API_TOKEN_ROTATION_OVERLAP_HOURS = 0
    client, old = api_client_create("strict", region_codes=[], quarantine_access=True)
    api_client_token_rotate(client)
    assert api_client_authenticate(old) is None


def test_revoking_ends_the_current_and_the_previous_token_and_is_audited(settings: Any) -> None:
    settings.API_TOKEN_ROTATION_OVERLAP_HOURS = 24
    client, old = api_client_create("revoked", region_codes=[], quarantine_access=True)
    new = api_client_token_rotate(client)
    admin = Client()
    admin.force_login(User.objects.create_superuser("root", password="pw-123456"))
    response = admin.post("/admin/api/apiclient/", {"action": "revoke", "_selected_action": [client.pk]})
    assert response.status_code == 302
    assert api_client_authenticate(new) is None and api_client_authenticate(old) is None
    assert not ApiClient.objects.get(pk=client.pk).active
    assert AuditLog.objects.filter(
        action="api_client.revoked", object_id=str(client.pk), actor="root"
    ).exists()


def test_a_client_created_in_the_admin_gets_an_expiry(settings: Any) -> None:
    settings.API_TOKEN_LIFETIME_DAYS = 7
    admin = Client()
    admin.force_login(User.objects.create_superuser("root", password="pw-123456"))
    admin.post("/admin/api/apiclient/add/", {"name": "from-admin", "role": "read", "quarantine_access": "on"})
    expires = ApiClient.objects.get(name="from-admin").token_expires_at
    assert expires is not None and timedelta(days=6) < expires - timezone.now() <= timedelta(days=7)
