"""Start/stop RTMS, re-route and erase through the API: Zoom (zoomsim) is called, the audit log records it,
and a manual stop is never undone by the reconciler."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from reconciler.core import Kind, LiveMeeting, Observation, Policy, plan
from reconciler.services import known_live
from regions.models import Region
from rtms.models import AuditLog, Meeting, ZoomAccount
from tests.integration.api_support import MakeApiClient, fresh_throttles_fixture, make_api_client_fixture  # noqa: F401
from tests.integration.conftest import EU_ALIAS
from zoomsim.testing import SimServer

pytestmark = pytest.mark.django_db(databases=["default", EU_ALIAS])


@pytest.fixture
def account() -> ZoomAccount:
    account, _ = ZoomAccount.objects.get_or_create(zoom_account_id="test-account")
    return account


@pytest.fixture
def live_meeting(sim: SimServer, eu: Region, account: ZoomAccount, make_meeting: Any) -> Meeting:
    created = sim.client.create_meeting("anna@eu.example.com", rtms="api")
    meeting: Meeting = make_meeting(
        eu, zoom_uuid=created["meeting_uuid"], zoom_meeting_id=int(created["meeting_id"]), account=account
    )
    return meeting


def _post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, body if body is not None else {"reason": "ticket 42"}, "application/json")


def test_manual_start_calls_zoom_and_is_audited(
    sim: SimServer,
    live_meeting: Meeting,
    make_api_client: MakeApiClient,
) -> None:
    client = make_api_client("eu-central", role="read-write")
    response = _post(client, f"/api/v1/meetings/{live_meeting.pk}/rtms/start/")
    assert response.status_code == 202, response.content
    sim.client.wait_for(
        "rtms.action", meeting_uuid=live_meeting.zoom_uuid, where=lambda e: e["action"] == "start"
    )
    row = AuditLog.objects.get(action="rtms.start_manual", object_id=str(live_meeting.pk))
    assert row.actor.startswith("api:") and row.region_code == "eu-central"
    assert row.detail["reason"] == "ticket 42" and row.detail["result"] == "called"
    live_meeting.refresh_from_db()
    assert live_meeting.rtms_start_called_at is not None


def test_zoom_refusal_is_a_502_with_zooms_code(
    sim: SimServer,
    eu: Region,
    account: ZoomAccount,
    make_meeting: Any,
    make_api_client: MakeApiClient,
) -> None:
    created = sim.client.create_meeting("anna@eu.example.com", rtms="none")  # the app is not allowed: 2308
    meeting = make_meeting(
        eu, zoom_uuid=created["meeting_uuid"], zoom_meeting_id=int(created["meeting_id"]), account=account
    )
    response = _post(
        make_api_client("eu-central", role="read-write"), f"/api/v1/meetings/{meeting.pk}/rtms/start/"
    )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "zoom_error"
    assert response.json()["error"]["zoom"]["code"] == 2308
    assert AuditLog.objects.get(action="rtms.start_manual").detail["result"] == "zoom_error"


def test_manual_stop_holds_the_reconciler_until_a_manual_start(
    sim: SimServer,
    live_meeting: Meeting,
    account: ZoomAccount,
    make_api_client: MakeApiClient,
) -> None:
    client = make_api_client("eu-central", role="read-write")
    assert _post(client, f"/api/v1/meetings/{live_meeting.pk}/rtms/start/").status_code == 202
    # Zoom stops only a stream that has started (a 'starting' one is refused with 2310): wait for it.
    sim.client.wait_for("event.emitted", event="meeting.rtms_started", meeting_uuid=live_meeting.zoom_uuid)
    response = _post(client, f"/api/v1/meetings/{live_meeting.pk}/rtms/stop/", {"reason": "DPO request"})
    assert response.status_code == 202, response.content
    sim.client.wait_for(
        "rtms.action", meeting_uuid=live_meeting.zoom_uuid, where=lambda e: e["action"] == "stop"
    )
    assert AuditLog.objects.get(action="rtms.stop_manual").detail["reason"] == "DPO request"

    # Zoom lists the meeting as live and we hold no stream: without the marker the plan would restart it.
    observed = Observation(
        complete=True,
        live=(LiveMeeting(live_meeting.zoom_uuid, live_meeting.zoom_meeting_id or 0),),
        known_live=known_live(account),
    )
    policy = Policy(restart_backoff=settings_delta(0), error_backoff=settings_delta(0), max_restarts=5)
    actions = plan(observed, datetime.now(tz=UTC), policy).actions
    assert [a.kind for a in actions] == [Kind.HOLD]
    assert "manually" in actions[0].reason

    # A deliberate manual start lifts the hold.
    sim.client.wait_for("event.emitted", event="meeting.rtms_stopped", meeting_uuid=live_meeting.zoom_uuid)
    assert _post(client, f"/api/v1/meetings/{live_meeting.pk}/rtms/start/").status_code == 202
    live_meeting.refresh_from_db()
    assert live_meeting.rtms_manual_stop_at is None


def settings_delta(seconds: int) -> Any:
    from datetime import timedelta

    return timedelta(seconds=seconds)


def test_start_is_refused_for_quarantined_and_ended_meetings(
    make_meeting: Any,
    eu: Region,
    make_api_client: MakeApiClient,
) -> None:
    client = make_api_client("eu-central", role="read-write", quarantine=True)
    for meeting in (make_meeting(None), make_meeting(eu, state="ended")):
        response = _post(client, f"/api/v1/meetings/{meeting.pk}/rtms/start/")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "conflict"


def test_start_is_refused_after_a_hosts_decision_to_stop(
    make_meeting: Any,
    make_stream: Any,
    eu: Region,
    account: ZoomAccount,
    make_api_client: MakeApiClient,
) -> None:
    meeting = make_meeting(eu, account=account)
    make_stream(meeting, state="stopped", stop_reason=1)  # HOST_TRIGGERED: consent
    response = _post(
        make_api_client("eu-central", role="read-write"), f"/api/v1/meetings/{meeting.pk}/rtms/start/"
    )
    assert response.status_code == 409
    assert "host" in response.json()["error"]["message"]


def test_an_action_without_a_reason_is_400_naming_the_field(
    make_meeting: Any,
    eu: Region,
    make_api_client: MakeApiClient,
) -> None:
    meeting = make_meeting(eu)
    client = make_api_client("eu-central", role="read-write")
    for body in ({}, {"reason": ""}, {"reason": 5 * "x" * 200}):
        response = _post(client, f"/api/v1/meetings/{meeting.pk}/rtms/stop/", body)
        assert response.status_code == 400
        assert "reason" in response.json()["error"]["fields"]
    response = client.post(f"/api/v1/meetings/{meeting.pk}/rtms/stop/", "not json", "application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert Meeting.objects.get(pk=meeting.pk).rtms_manual_stop_at is None


def test_erasure_is_refused_while_capturing_and_done_afterwards(
    make_meeting: Any,
    make_stream: Any,
    add_segments: Any,
    eu: Region,
    make_api_client: MakeApiClient,
) -> None:
    meeting = make_meeting(eu, state="ended")
    stream = make_stream(meeting, state="connected")
    add_segments(stream, [("Anna", "Hello")])
    client = make_api_client("eu-central", role="read-write")
    refused = _post(client, f"/api/v1/meetings/{meeting.pk}/erase/", {"reason": "subject request 7"})
    assert refused.status_code == 409
    stream.state = "stopped"
    stream.save(update_fields=["state"])
    done = _post(client, f"/api/v1/meetings/{meeting.pk}/erase/", {"reason": "subject request 7"})
    assert done.status_code == 200, done.content
    assert done.json()["segments_deleted"] == 1 and done.json()["completed_at"]
    page = client.get(f"/api/v1/meetings/{meeting.pk}/transcript/").json()
    assert page["results"] == []
    assert AuditLog.objects.filter(action="meeting.erase", object_id=str(meeting.pk)).exists()


def test_read_clients_cannot_erase(make_meeting: Any, eu: Region, make_api_client: MakeApiClient) -> None:
    meeting = make_meeting(eu, state="ended")
    response = _post(make_api_client("eu-central"), f"/api/v1/meetings/{meeting.pk}/erase/", {"reason": "x"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
