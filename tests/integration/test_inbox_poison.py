"""A poison-proof inbox: an event that cannot be applied is recorded with its error, counts its attempts even
when the attempt is rolled back, fails after INBOX_MAX_ATTEMPTS, and never blocks the stream's stop reason,
the purge of a revoked stream or the meeting's erasure."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from compliance.erasure import meeting_erase
from regions.models import Region
from rtms.inbox import apply as inbox_apply
from rtms.inbox.apply import event_apply
from rtms.inbox.sweep import inbox_sweep
from rtms.lifecycle import StreamState
from rtms.models import InboundEvent, InboxStatus, Meeting, RoutedPayload, RtmsStream, TranscriptSegment
from rtms.services import stream_transition
from tests.integration.conftest import EU_ALIAS, AddSegments, MakeMeeting, MakeStream

pytestmark = pytest.mark.django_db(databases=["default", EU_ALIAS])


def _event(
    meeting: Meeting, body: dict[str, Any], *, key: str, age: timedelta = timedelta(0)
) -> InboundEvent:
    """An event routed to the meeting's region, as the route step leaves it."""
    return InboundEvent.objects.create(
        dedupe_key=key,
        event_type=body["event"],
        event_ts=body["event_ts"],
        payload=body,
        first_channel="webhook",
        received_at=timezone.now() - age,
        region=meeting.region,
        meeting=meeting,
    )


def _stopped(meeting: Meeting, stream: RtmsStream, reason: int, ts: int) -> dict[str, Any]:
    return {
        "event": "meeting.rtms_stopped",
        "event_ts": ts,
        "payload": {
            "meeting_uuid": meeting.zoom_uuid,
            "rtms_stream_id": stream.rtms_stream_id,
            "stop_reason": reason,
        },
    }


def _interrupted(meeting: Meeting, stream: RtmsStream, ts: int) -> dict[str, Any]:
    return {
        "event": "meeting.rtms_interrupted",
        "event_ts": ts,
        "payload": {"meeting_uuid": meeting.zoom_uuid, "rtms_stream_id": stream.rtms_stream_id},
    }


def test_a_revoked_stop_for_a_stream_the_gateway_failed_records_the_reason_and_purges_the_content(
    eu: Region,
    make_meeting: MakeMeeting,
    make_stream: MakeStream,
    add_segments: AddSegments,
    django_capture_on_commit_callbacks: Any,
) -> None:
    meeting = make_meeting(eu)
    stream = make_stream(meeting, state="failed")
    add_segments(stream, [("Anna", "please forget this")])
    event = _event(meeting, _stopped(meeting, stream, 8, 10), key="stop-failed")
    with django_capture_on_commit_callbacks(execute=True):
        assert event_apply(event.pk) == "stopped"
    stream.refresh_from_db()
    assert (stream.state, stream.stop_reason) == ("stopped", 8)
    assert InboundEvent.objects.get(pk=event.pk).status == InboxStatus.PROCESSED
    assert TranscriptSegment.objects.using(EU_ALIAS).filter(stream_id=stream.pk).count() == 0


def test_an_illegal_transition_is_an_outcome_recorded_on_the_event_not_a_retry_loop(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler read the stream as connected, then the gateway stopped it before the move: the move
    the event asks for is one the lifecycle forbids now. It is recorded, not retried for ever."""
    meeting = make_meeting(eu)
    stream = make_stream(meeting, state="connected")
    event = _event(meeting, _interrupted(meeting, stream, 10), key="illegal")

    def read_connected_then_the_gateway_stopped_it(event: Any, meeting: Meeting, clock: Any) -> str:
        RtmsStream.objects.filter(pk=stream.pk).update(state="stopped", stop_reason=6)
        stream_transition(stream.pk, StreamState.INTERRUPTED, cause="zoom.rtms_interrupted", clock=clock)
        return "interrupted"

    monkeypatch.setattr(inbox_apply, "apply_rtms_interrupted", read_connected_then_the_gateway_stopped_it)
    assert event_apply(event.pk) == "illegal_transition"
    row = InboundEvent.objects.get(pk=event.pk)
    assert (row.status, row.attempts) == (InboxStatus.IGNORED, 1)
    assert row.error == f"illegal transition: stream {stream.pk}: cannot move from 'stopped' to 'interrupted'"
    assert event_apply(event.pk) == "skipped"  # settled: a redelivered task does nothing
    # Settled unapplied, its body still went to the region (issue #19).
    assert row.payload.get("redacted") == "in the region's database"
    assert RoutedPayload.objects.using(EU_ALIAS).filter(event_id=event.pk).exists()


def test_an_event_whose_apply_keeps_failing_counts_its_attempts_and_fails_after_the_maximum(
    eu: Region,
    make_meeting: MakeMeeting,
    make_stream: MakeStream,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    settings.INBOX_MAX_ATTEMPTS = 3
    meeting = make_meeting(eu)
    stream = make_stream(meeting, state="connected")
    event = _event(meeting, _stopped(meeting, stream, 13, 10), key="poison", age=timedelta(minutes=5))

    def broken(*args: object, **kwargs: object) -> str:
        raise KeyError("a bug in a handler")

    monkeypatch.setattr(inbox_apply, "apply_rtms_stopped", broken)
    for attempt in (1, 2):
        assert event_apply(event.pk) == "error"
        row = InboundEvent.objects.get(pk=event.pk)
        # The attempt is counted although the transaction that failed was rolled back.
        assert (row.status, row.attempts) == (InboxStatus.PENDING, attempt)
        assert row.error == "KeyError: 'a bug in a handler'"
        assert row.last_attempt_at is not None
    assert event_apply(event.pk) == "failed"
    row = InboundEvent.objects.get(pk=event.pk)
    assert (row.status, row.attempts) == (InboxStatus.FAILED, 3)
    assert row.error.startswith("gave up after 3 attempts: KeyError")
    assert row.payload.get("redacted") == "in the region's database"  # its body is in the region
    assert RoutedPayload.objects.using(EU_ALIAS).filter(event_id=event.pk).exists()
    # A failed event is never swept back to a worker.
    assert inbox_sweep(older_than=timedelta(seconds=10)) == 0
    assert RtmsStream.objects.get(pk=stream.pk).state == "connected"  # nothing half-applied


def test_a_pending_event_at_the_maximum_is_failed_by_the_sweeper_not_requeued(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream, settings: Any
) -> None:
    """A worker killed in the middle of every attempt never gets to record a failure itself."""
    settings.INBOX_MAX_ATTEMPTS = 3
    meeting = make_meeting(eu)
    stream = make_stream(meeting, state="connected")
    event = _event(meeting, _stopped(meeting, stream, 13, 10), key="killer", age=timedelta(minutes=5))
    InboundEvent.objects.filter(pk=event.pk).update(
        attempts=3, last_attempt_at=timezone.now() - timedelta(minutes=1)
    )
    assert inbox_sweep(older_than=timedelta(seconds=10)) == 0
    row = InboundEvent.objects.get(pk=event.pk)
    assert row.status == InboxStatus.FAILED and row.error.startswith("gave up after 3 attempts")


def test_failed_and_stuck_events_do_not_block_erasure_but_a_fresh_one_does(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    meeting = make_meeting(eu, state="ended")
    stream = make_stream(meeting, state="stopped", stop_reason=6)
    failed = _event(meeting, _stopped(meeting, stream, 6, 10), key="f", age=timedelta(hours=1))
    InboundEvent.objects.filter(pk=failed.pk).update(status=InboxStatus.FAILED, error="KeyError: x")
    stuck = _event(meeting, _interrupted(meeting, stream, 11), key="s", age=timedelta(hours=1))
    fresh = _event(meeting, _interrupted(meeting, stream, 12), key="n")
    from compliance.erasure import ErasureRefused

    with pytest.raises(ErasureRefused, match="still being processed"):
        meeting_erase(meeting, actor="dora", reason="DSR-1", source_ip=None)
    InboundEvent.objects.filter(pk=fresh.pk).update(received_at=timezone.now() - timedelta(hours=1))
    tombstone = meeting_erase(meeting, actor="dora", reason="DSR-1", source_ip=None)
    assert tombstone.completed_at is not None
    for row in InboundEvent.objects.filter(pk__in=[failed.pk, stuck.pk, fresh.pk]):
        assert "anna" not in str(row.payload).lower()
    # The stuck ones are settled: a worker that picks one up later finds nothing to apply.
    assert set(InboundEvent.objects.filter(pk__in=[stuck.pk, fresh.pk]).values_list("status", flat=True)) == {
        InboxStatus.IGNORED
    }
    assert event_apply(stuck.pk) == "skipped"


def test_failed_events_are_listed_with_their_error_in_the_admin_and_counted_in_metrics(
    eu: Region,
    make_meeting: MakeMeeting,
    make_stream: MakeStream,
    admin_client: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPERATIONS_TOKEN", "ops")  # /metrics is for operators (controlplane/health.py)
    meeting = make_meeting(eu)
    stream = make_stream(meeting, state="stopped")
    event = _event(meeting, _stopped(meeting, stream, 6, 10), key="shown")
    InboundEvent.objects.filter(pk=event.pk).update(status=InboxStatus.FAILED, error="KeyError: shown-error")
    page = admin_client.get("/admin/rtms/inboundevent/?status__exact=failed")
    assert page.status_code == 200 and "KeyError: shown-error" in page.content.decode()
    metrics = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ops").content.decode()
    assert 'rtms_inbox_events{status="failed"} 1.0' in metrics
