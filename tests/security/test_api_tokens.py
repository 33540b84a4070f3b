"""Issue #20, item 7 (first part): a new API token's plaintext travelled in Django's messages cookie (signed,
not encrypted), and creating or rotating a client wrote no audit row. The token is now shown once, in the
response that made it (not cached), never in a cookie or the session; creation, rotation, changes and
revocation are audited, without the token."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client

from api.models import ApiClient
from api.services import api_client_authenticate
from regions.models import Region
from rtms.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def root() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="pw-123456"))
    return client


def _token_in(html: str) -> str:
    start = html.index('<code class="api-token">') + len('<code class="api-token">')
    return html[start : html.index("</code>", start)]


def _nowhere_else(response: Any, token: str) -> None:
    """Not in any cookie the response sets, not in any stored session."""
    assert all(token not in morsel.value for morsel in response.cookies.values())
    assert all(token not in str(session.get_decoded()) for session in Session.objects.all())


def test_a_new_token_is_shown_once_in_the_response_and_kept_nowhere(root: Client, eu: Region) -> None:
    response = root.post(
        "/admin/api/apiclient/add/",
        {"name": "reporting", "regions": [eu.pk], "role": "read", "active": "on"},
    )
    assert response.status_code == 200
    token = _token_in(response.content.decode())
    assert "no-store" in response["Cache-Control"]
    _nowhere_else(response, token)
    client = ApiClient.objects.get(name="reporting")
    assert api_client_authenticate(token) == client
    audit = AuditLog.objects.get(action="api_client.created", object_id=str(client.pk))
    assert audit.actor == "root" and token not in str(audit.detail)
    assert audit.detail["token_prefix"] == client.token_prefix
    # The next page shows it no more.
    assert token not in root.get("/admin/api/apiclient/").content.decode()


def test_a_rotation_shows_the_new_token_once_and_is_audited(root: Client, eu: Region) -> None:
    call_command("api_client_create", "billing", "--region", "eu-central", stdout=open("/dev/null", "w"))
    client = ApiClient.objects.get(name="billing")
    assert AuditLog.objects.filter(action="api_client.created", object_id=str(client.pk)).exists()
    response = root.post("/admin/api/apiclient/", {"action": "rotate_token", "_selected_action": [client.pk]})
    assert response.status_code == 200
    token = _token_in(response.content.decode())
    _nowhere_else(response, token)
    assert api_client_authenticate(token) == client
    assert AuditLog.objects.filter(
        action="api_client.token_rotated", object_id=str(client.pk), actor="root"
    ).exists()


def test_revoking_a_client_is_audited(root: Client, eu: Region) -> None:
    call_command("api_client_create", "old", "--region", "eu-central", stdout=open("/dev/null", "w"))
    client = ApiClient.objects.get(name="old")
    response = root.post(
        f"/admin/api/apiclient/{client.pk}/change/",
        {"name": "old", "regions": [eu.pk], "role": client.role},  # "active" unticked
    )
    assert response.status_code == 302
    assert AuditLog.objects.filter(
        action="api_client.revoked", object_id=str(client.pk), actor="root"
    ).exists()
