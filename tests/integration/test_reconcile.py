"""One reconciliation run against zoomsim, with the services called as functions."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from reconciler.services import reconcile_account
from regions.models import Region, ResidencyRule
from rtms.models import Meeting, RtmsStream, ZoomAccount
from rtms.zoom_clients import zoom_api_for
from zoomsim.testing import SimServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(eu: Region) -> ZoomAccount:
    cache.clear()  # the per-account call budget lives in the cache
    ResidencyRule.objects.create(position=10, field="host_email_domain", value="eu.example.com", region=eu)
    acc, _ = ZoomAccount.objects.get_or_create(zoom_account_id="test-account", defaults={"mode": "api"})
    return acc


def _starts(sim: SimServer, meeting_id: int) -> list[dict[str, Any]]:
    return [
        e
        for e in sim.client.ledger(kind="rest.call")
        if f"/live_meetings/{meeting_id}/rtms_app/status" in str(e.get("path")) and e.get("status") == 204
    ]


def test_a_missed_start_is_created_routed_and_started_once(sim: SimServer, account: ZoomAccount) -> None:
    created = sim.client.create_meeting("anna@eu.example.com", rtms="api")  # no webhook, no WebSocket: lost
    meeting_id = int(created["meeting_id"])
    run = reconcile_account(account, trigger="test", api_factory=zoom_api_for)
    assert run.status == "succeeded" and run.meetings_seen == 1
    meeting = Meeting.objects.get(zoom_uuid=created["meeting_uuid"])
    assert meeting.region is not None and meeting.region.code == "eu-central"
    assert len(_starts(sim, meeting_id)) == 1
    # Its rtms_started was lost too: a second run sees no stream but waits instead of starting again.
    reconcile_account(account, trigger="test", api_factory=zoom_api_for)
    assert len(_starts(sim, meeting_id)) == 1


def test_a_missed_end_is_confirmed_after_two_absences(sim: SimServer, account: ZoomAccount) -> None:
    created = sim.client.create_meeting("anna@eu.example.com", rtms="api")
    reconcile_account(account, trigger="test", api_factory=zoom_api_for)
    sim.client.end_meeting(created["meeting_uuid"])
    reconcile_account(account, trigger="test", api_factory=zoom_api_for)
    meeting = Meeting.objects.get(zoom_uuid=created["meeting_uuid"])
    assert meeting.state == "live" and meeting.missing_observations == 1  # one absence is not evidence
    reconcile_account(account, trigger="test", api_factory=zoom_api_for)
    meeting.refresh_from_db()
    assert meeting.state == "ended"


def test_a_stream_stopped_by_the_host_is_never_restarted(sim: SimServer, account: ZoomAccount) -> None:
    created = sim.client.create_meeting("anna@eu.example.com", rtms="api")
    reconcile_account(account, trigger="test", api_factory=zoom_api_for)
    meeting = Meeting.objects.get(zoom_uuid=created["meeting_uuid"])
    Meeting.objects.filter(pk=meeting.pk).update(rtms_start_requested_at=None, last_restart_at=None)
    RtmsStream.objects.create(
        rtms_stream_id="h" * 32, meeting=meeting, region=meeting.region, state="stopped", stop_reason=1
    )
    run = reconcile_account(account, trigger="test", api_factory=zoom_api_for)
    assert len(_starts(sim, int(created["meeting_id"]))) == 1
    assert run.repairs.get("hold") == 1


def test_a_failed_observation_ends_nothing(sim: SimServer, account: ZoomAccount) -> None:
    created = sim.client.create_meeting("anna@eu.example.com", rtms="api")
    reconcile_account(account, trigger="test", api_factory=zoom_api_for)
    Meeting.objects.filter(zoom_uuid=created["meeting_uuid"]).update(missing_observations=1)
    sim.client.end_meeting(created["meeting_uuid"])
    sim.client.rest_fault(429, path_prefix="/v2/metrics/meetings", times=20)
    run = reconcile_account(account, trigger="test", api_factory=zoom_api_for)
    assert run.status == "partial"
    assert Meeting.objects.get(zoom_uuid=created["meeting_uuid"]).state == "live"
