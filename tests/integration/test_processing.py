"""Routing and applying inbox events, with zoomsim as the Zoom API (tasks called as functions)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from regions.models import Region, ResidencyRule
from rtms.capture import rtms_start
from rtms.inbox.apply import event_apply
from rtms.inbox.receive import ingest
from rtms.inbox.route import event_route, requeue_quarantined
from rtms.inbox.sweep import inbox_sweep
from rtms.models import Channel, InboundEvent, Meeting, MeetingDetails, RtmsStream, ZoomAccount
from tests.integration.conftest import EU_ALIAS, personal
from tests.support import event_body, meeting_payload, newest_tasks_with_eta
from zoomsim.testing import SimServer

# Routed events' bodies move to the region's database (issue #19): tests reach every database.
pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def account() -> ZoomAccount:
    # get_or_create: transactional tests elsewhere truncate the row that migrate created.
    acc, _ = ZoomAccount.objects.get_or_create(zoom_account_id="test-account", defaults={"mode": "api"})
    return acc


@pytest.fixture
def rules(eu: Region, us: Region) -> None:
    Region.objects.filter(pk=eu.pk).update(zoom_data_centres=["fra", "ams"])
    ResidencyRule.objects.create(position=10, field="host_email_domain", value="eu.example.com", region=eu)
    ResidencyRule.objects.create(position=20, field="host_email_domain", value="us.example.com", region=us)


def deliver(body: dict[str, Any], channel: Channel = Channel.WEBHOOK) -> int:
    result = ingest(body, channel=channel)
    assert result.stored is not None
    return result.stored.event_id


def process(event_id: int) -> str:
    routed = event_route(event_id)
    if routed.status != "routed":
        return routed.status
    return event_apply(event_id)


def rtms_started(uuid: str, stream: str, urls: str, ts: int) -> dict[str, Any]:
    return event_body(
        "meeting.rtms_started",
        {"meeting_uuid": uuid, "operator_id": "op", "rtms_stream_id": stream, "server_urls": urls},
        event_ts=ts,
    )


def rtms_stopped(uuid: str, stream: str, reason: int, ts: int) -> dict[str, Any]:
    return event_body(
        "meeting.rtms_stopped",
        {"meeting_uuid": uuid, "rtms_stream_id": stream, "stop_reason": reason},
        event_ts=ts,
    )


def patch_calls(sim: SimServer) -> list[dict[str, Any]]:
    return [e for e in sim.client.ledger(kind="rest.call") if "rtms_app/status" in str(e.get("path", ""))]


def test_meeting_started_is_routed_by_host_domain_and_starts_rtms_exactly_once(
    sim: SimServer, account: ZoomAccount, rules: None
) -> None:
    created = sim.client.create_meeting("anna@eu.example.com", rtms="api")
    uuid, meeting_id = created["meeting_uuid"], int(created["meeting_id"])
    body = event_body("meeting.started", meeting_payload(uuid, meeting_id), event_ts=1)
    first = deliver(body)
    assert deliver(body, Channel.WEBSOCKET) == first  # the same event over the other channel
    assert process(first) == "meeting_started"
    assert process(first) == "skipped"  # a redelivered task
    # A second, distinct copy of meeting.started (new event_ts) must not start RTMS again.
    assert process(deliver(event_body("meeting.started", meeting_payload(uuid, meeting_id), event_ts=2))) == (
        "meeting_started"
    )
    meeting = Meeting.objects.get(zoom_uuid=uuid)
    assert meeting.region is not None and meeting.region.code == "eu-central"
    assert meeting.routing_status == "routed" and meeting.state == "live"
    assert meeting.rtms_start_requested_at is not None
    assert rtms_start(meeting.pk) == "called"
    assert rtms_start(meeting.pk) == "already_called"
    assert len(patch_calls(sim)) == 1


# Zoom takes a while to stop a stream (here 1 s): the start that follows the stop meets it still running.
@pytest.mark.parametrize("sim", [{"rtms_event_delay_s": 100.0}], indirect=True)
def test_a_start_that_meets_a_stream_zoom_auto_started_replaces_it_at_once(
    sim: SimServer, account: ZoomAccount, rules: None
) -> None:
    """Zoom auto-started RTMS for this host and its rtms_started was lost: our start meets it (2310), the
    stop proves it ran, and the start is asked for again until Zoom has finished stopping it. Left to the
    reconciler, the meeting would wait RTMS_START_EVENT_WINDOW_SECONDS and more, speaking to nobody."""
    sim.client.add_host("auto@eu.example.com", rtms_auto_start=True)
    created = sim.client.create_meeting("auto@eu.example.com")
    uuid, meeting_id = created["meeting_uuid"], int(created["meeting_id"])
    sim.client.wait_for("event.emitted", event="meeting.rtms_started", timeout=10)  # Zoom's stream runs
    payload = meeting_payload(uuid, meeting_id, host_email="auto@eu.example.com")
    process(deliver(event_body("meeting.started", payload)))
    meeting = Meeting.objects.get(zoom_uuid=uuid)
    assert rtms_start(meeting.pk) == "called"
    meeting.refresh_from_db()
    assert meeting.rtms_start_called_at is not None and meeting.rtms_start_error_code is None
    assert meeting.rtms_self_stop_at is not None  # its rtms_stopped (reason 2) is ours, not a decision
    actions = [e["action"] for e in sim.client.ledger(kind="rtms.action", meeting_uuid=uuid)]
    assert actions == ["stop", "start"]


def test_zoom_refusing_the_start_is_recorded_on_the_meeting(
    account: ZoomAccount, rules: None, sim: SimServer
) -> None:
    # Zoom does not know this meeting (it is not live there): 404 / 3001 is recorded, not retried.
    event_id = deliver(event_body("meeting.started", meeting_payload("ghost==", 99999999999)))
    process(event_id)
    meeting = Meeting.objects.get(zoom_uuid="ghost==")
    assert rtms_start(meeting.pk) == "refused"
    meeting.refresh_from_db()
    assert meeting.rtms_start_error_code == 3001 and meeting.rtms_start_called_at is None


def test_auto_start_accounts_never_call_the_start_api(account: ZoomAccount, rules: None) -> None:
    ZoomAccount.objects.filter(pk=account.pk).update(mode="auto")
    process(deliver(event_body("meeting.started", meeting_payload("auto==", 81000000001))))
    assert Meeting.objects.get(zoom_uuid="auto==").rtms_start_requested_at is None


def test_rtms_started_makes_a_wanted_stream_with_its_data_centre(account: ZoomAccount, rules: None) -> None:
    process(deliver(event_body("meeting.started", meeting_payload("dc==", 81000000002))))
    process(deliver(rtms_started("dc==", "s" * 32, "wss://rtms-fra1.zoom.us/a", ts=10)))
    stream = RtmsStream.objects.get(rtms_stream_id="s" * 32)
    assert stream.state == "wanted" and stream.server_urls == ["wss://rtms-fra1.zoom.us/a"]
    assert stream.region is not None and stream.region.code == "eu-central"
    assert stream.zoom_data_centre == "fra1" and not stream.data_centre_mismatch


def test_a_stream_served_from_another_jurisdictions_data_centre_is_flagged(
    account: ZoomAccount, rules: None
) -> None:
    process(deliver(event_body("meeting.started", meeting_payload("dc2==", 81000000003))))
    process(deliver(rtms_started("dc2==", "t" * 32, "wss://rtms-sjc1.zoom.us/a", ts=10)))
    assert RtmsStream.objects.get(rtms_stream_id="t" * 32).data_centre_mismatch


def test_failover_moves_to_new_urls_and_a_late_old_copy_never_rolls_back(
    account: ZoomAccount, rules: None
) -> None:
    process(deliver(event_body("meeting.started", meeting_payload("fo==", 81000000004))))
    stream_id = "f" * 32
    assert process(deliver(rtms_started("fo==", stream_id, "wss://rtms-fra1.zoom.us/1", ts=10))) == "created"
    RtmsStream.objects.filter(rtms_stream_id=stream_id).update(state="connected")
    assert process(deliver(rtms_started("fo==", stream_id, "wss://rtms-fra1.zoom.us/2", ts=20))) == "failover"
    stream = RtmsStream.objects.get(rtms_stream_id=stream_id)
    assert stream.state == "wanted" and stream.server_generation == 2
    assert stream.server_urls == ["wss://rtms-fra1.zoom.us/2"]
    # The same failover delivered again, and an old copy arriving late: neither changes anything.
    assert (
        process(deliver(rtms_started("fo==", stream_id, "wss://rtms-fra1.zoom.us/2", ts=21))) == "duplicate"
    )
    assert process(deliver(rtms_started("fo==", stream_id, "wss://rtms-fra1.zoom.us/1", ts=5))) == "duplicate"
    stream.refresh_from_db()
    assert stream.server_urls == ["wss://rtms-fra1.zoom.us/2"] and stream.server_generation == 2


def test_a_stop_for_an_unseen_stream_is_kept_and_a_late_start_cannot_revive_it(
    account: ZoomAccount, rules: None
) -> None:
    process(deliver(event_body("meeting.started", meeting_payload("late==", 81000000005))))
    stream_id = "9" * 32
    assert process(deliver(rtms_stopped("late==", stream_id, 1, ts=20))) == "stopped"
    assert process(deliver(rtms_started("late==", stream_id, "wss://rtms-fra1.zoom.us/x", ts=10))) == (
        "ignored_terminal"
    )
    stream = RtmsStream.objects.get(rtms_stream_id=stream_id)
    assert (stream.state, stream.stop_reason) == ("stopped", 1)


def test_interrupt_and_stop_follow_the_stored_stream_even_after_rules_change(
    account: ZoomAccount, rules: None
) -> None:
    process(deliver(event_body("meeting.started", meeting_payload("keep==", 81000000006))))
    process(deliver(rtms_started("keep==", "k" * 32, "wss://rtms-fra1.zoom.us/x", ts=10)))
    RtmsStream.objects.filter(rtms_stream_id="k" * 32).update(state="connected")
    ResidencyRule.objects.all().delete()
    interrupted = deliver(
        event_body(
            "meeting.rtms_interrupted", {"meeting_uuid": "keep==", "rtms_stream_id": "k" * 32}, event_ts=20
        )
    )
    assert process(interrupted) == "interrupted"
    assert InboundEvent.objects.get(pk=interrupted).region.code == "eu-central"  # type: ignore[union-attr]
    assert process(deliver(rtms_stopped("keep==", "k" * 32, 13, ts=30))) == "stopped"


def test_meeting_ended_ends_the_meeting_and_closes_its_streams(account: ZoomAccount, rules: None) -> None:
    payload = meeting_payload("end==", 81000000007)
    process(deliver(event_body("meeting.started", payload, event_ts=1)))
    process(deliver(rtms_started("end==", "e" * 32, "wss://rtms-fra1.zoom.us/x", ts=2)))
    payload["object"]["end_time"] = "2026-11-20T11:00:00Z"
    assert process(deliver(event_body("meeting.ended", payload, event_ts=3))) == "meeting_ended"
    meeting = Meeting.objects.get(zoom_uuid="end==")
    assert meeting.state == "ended" and meeting.ended_at is not None and meeting.ended_at.hour == 11
    stream = RtmsStream.objects.get(rtms_stream_id="e" * 32)
    assert (stream.state, stream.stop_reason) == ("stopped", 6)


def test_an_unmatched_meeting_is_quarantined_then_rerouted_once_a_rule_exists(
    account: ZoomAccount, eu: Region
) -> None:
    event_id = deliver(
        event_body("meeting.started", meeting_payload("q==", 81000000008, host_email="x@else.org"))
    )
    assert process(event_id) == "quarantined"
    meeting = Meeting.objects.get(zoom_uuid="q==")
    assert meeting.region is None and meeting.routing_status == "quarantined"
    assert InboundEvent.objects.get(pk=event_id).status == "quarantined"
    assert event_apply(event_id) == "skipped"  # never processed outside a region

    ResidencyRule.objects.create(position=1, field="host_email_domain", value="else.org", region=eu)
    assert requeue_quarantined(meeting) == 1
    assert process(event_id) == "meeting_started"
    meeting.refresh_from_db()
    assert meeting.region == eu and meeting.routing_status == "routed"


def test_a_meeting_is_routed_the_same_whichever_channel_brings_it(account: ZoomAccount, rules: None) -> None:
    process(
        deliver(event_body("meeting.started", meeting_payload("via-ws==", 81000000009)), Channel.WEBSOCKET)
    )
    process(deliver(event_body("meeting.started", meeting_payload("via-wh==", 81000000010)), Channel.WEBHOOK))
    regions = {m.zoom_uuid: m.region.code for m in Meeting.objects.filter(zoom_uuid__startswith="via-")}  # type: ignore[union-attr]
    assert regions == {"via-ws==": "eu-central", "via-wh==": "eu-central"}


def test_the_sweeper_requeues_rows_left_pending(account: ZoomAccount, rules: None) -> None:
    event_id = deliver(event_body("meeting.started", meeting_payload("stuck==", 81000000011)))
    InboundEvent.objects.filter(pk=event_id).update(
        received_at=InboundEvent.objects.get(pk=event_id).received_at - timedelta(minutes=5)
    )
    assert inbox_sweep(older_than=timedelta(seconds=10)) == 1
    process(event_id)
    assert inbox_sweep(older_than=timedelta(seconds=10)) == 0


def test_facts_the_event_lacks_are_fetched_from_zoom_before_deciding(
    sim: SimServer, account: ZoomAccount, eu: Region, us: Region
) -> None:
    # A tracking-field rule comes first; meeting.started never carries tracking fields, so the rule is
    # undecided until the meeting is looked up. Falling through to the domain rule would be wrong.
    ResidencyRule.objects.create(
        position=1, field="tracking_field", tracking_field_name="Residency", value="EU", region=eu
    )
    ResidencyRule.objects.create(position=2, field="host_email_domain", value="us.example.com", region=us)
    created = sim.client.create_meeting(
        "bob@us.example.com", rtms="api", tracking_fields=[{"field": "Residency", "value": "EU"}]
    )
    uuid, meeting_id = created["meeting_uuid"], int(created["meeting_id"])
    process(
        deliver(
            event_body("meeting.started", meeting_payload(uuid, meeting_id, host_email="bob@us.example.com"))
        )
    )
    meeting = Meeting.objects.get(zoom_uuid=uuid)
    assert meeting.region == eu and "rule #1" in meeting.routing_note
    lookups = [
        e
        for e in sim.client.ledger(kind="rest.call")
        if f"/v2/meetings/{meeting_id}" in str(e.get("path")) and e.get("status") == 200
    ]
    assert len(lookups) == 1


def test_a_missing_host_email_is_looked_up_through_the_host(
    sim: SimServer, account: ZoomAccount, rules: None
) -> None:
    created = sim.client.create_meeting("carla@us.example.com", rtms="api", omit_host_email_in_events=True)
    uuid, meeting_id = created["meeting_uuid"], int(created["meeting_id"])
    process(deliver(event_body("meeting.started", meeting_payload(uuid, meeting_id, host_email=None))))
    meeting = Meeting.objects.get(zoom_uuid=uuid)
    assert meeting.region is not None and meeting.region.code == "us-east"


def test_an_undecidable_meeting_is_quarantined_not_guessed(
    account: ZoomAccount, eu: Region, us: Region
) -> None:
    # No zoomsim here: the lookup fails (nothing listens), which must quarantine, never fall through.
    ResidencyRule.objects.create(
        position=1, field="tracking_field", tracking_field_name="Residency", value="EU", region=eu
    )
    ResidencyRule.objects.create(position=2, field="host_email_domain", value="eu.example.com", region=eu)
    from django.test import override_settings

    with override_settings(
        ZOOM_API_BASE_URL="http://127.0.0.1:9/v2", ZOOM_OAUTH_TOKEN_URL="http://127.0.0.1:9/t"
    ):
        with pytest.raises(Exception, match="failed"):
            process(deliver(event_body("meeting.started", meeting_payload("undecided==", 81000000099))))
    # Zoom unreachable is transient: the event stays pending for a retry, nothing was decided.
    assert InboundEvent.objects.get(dedupe_key__contains="undecided==").status == "pending"
    assert not Meeting.objects.filter(zoom_uuid="undecided==").exists()


def test_an_erased_meeting_gets_neither_its_personal_data_back_nor_a_new_capture(
    account: ZoomAccount, rules: None
) -> None:
    from django.utils import timezone

    from compliance.models import ErasureTombstone

    process(deliver(event_body("meeting.started", meeting_payload("erased==", 81000000077))))
    meeting = Meeting.objects.get(zoom_uuid="erased==")
    # Stored before the erasure, applied after it: the apply step refuses it.
    late = deliver(event_body("meeting.started", meeting_payload("erased==", 81000000077), event_ts=99))
    MeetingDetails.objects.using(EU_ALIAS).filter(meeting_id=meeting.pk).delete()  # as the erasure does
    ErasureTombstone.objects.create(
        meeting=meeting, requested_by="dpo", reason="request", requested_at=timezone.now()
    )
    assert process(late) == "ignored_erased"
    # Received after the erasure: stored as a stub, never applied (issue #19).
    after = deliver(rtms_started("erased==", "e" * 32, "wss://rtms-fra1.zoom.us/a", ts=100))
    assert process(after) == "skipped"
    assert InboundEvent.objects.get(pk=after).payload.get("redacted") == "erasure"
    assert personal(meeting.pk)[:2] == ("", "")
    assert not RtmsStream.objects.filter(meeting=meeting).exists()


def test_a_queued_start_does_not_undo_an_operator_stop(
    sim: SimServer, account: ZoomAccount, rules: None
) -> None:
    from django.utils import timezone

    created = sim.client.create_meeting("anna@eu.example.com", rtms="api")
    uuid, meeting_id = created["meeting_uuid"], int(created["meeting_id"])
    process(deliver(event_body("meeting.started", meeting_payload(uuid, meeting_id))))
    meeting = Meeting.objects.get(zoom_uuid=uuid)
    Meeting.objects.filter(pk=meeting.pk).update(rtms_manual_stop_at=timezone.now())  # before the task ran
    assert rtms_start(meeting.pk) == "stopped_manually"
    assert patch_calls(sim) == []


def test_an_api_start_waits_a_grace_period_for_zoom_to_auto_start_the_stream(
    account: ZoomAccount, rules: None, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Issue #18: Zoom auto-starts RTMS for some users even in api mode; a start that meets that stream is
    refused or replaces it. So the start task is published to run after RTMS_START_GRACE, and by then an
    auto-started stream's rtms_started has usually been applied: the start finds it and calls nothing."""
    settings.RTMS_START_GRACE = timedelta(seconds=4)
    before = time.time()
    with django_capture_on_commit_callbacks(execute=True):
        assert process(deliver(event_body("meeting.started", meeting_payload("grace==", 81000000031)))) == (
            "meeting_started"
        )
    [(name, kwargs, eta)] = newest_tasks_with_eta("region.eu-central", 1)
    meeting = Meeting.objects.get(zoom_uuid="grace==")
    assert (name, kwargs) == ("rtms.start_rtms", {"meeting_id": meeting.pk})
    assert eta is not None and eta.timestamp() >= before + 4
    # The auto-started stream arrives within the grace period: the start is not needed.
    process(deliver(rtms_started("grace==", "g" * 32, "wss://rtms-fra1.zoom.us/g", ts=5)))
    assert rtms_start(meeting.pk) == "stream_exists"
