from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from regions.models import Region
from rtms.lifecycle import MeetingState, StreamState
from rtms.models import MeetingTransition, RtmsStream, StreamTransition
from rtms.services import IllegalTransition, meeting_transition, stream_transition
from tests.integration.conftest import MakeMeeting, MakeStream

# Meetings keep their topic in the region's database (issue #19).
pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_legal_stream_transition_updates_state_and_appends_a_row(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    stream = make_stream(make_meeting(eu))
    result = stream_transition(stream.pk, StreamState.CONNECTING, cause="gateway.claimed")
    assert result.applied and result.from_state == "wanted"
    stream.refresh_from_db()
    assert stream.state == "connecting" and stream.state_changed_at is not None
    row = StreamTransition.objects.get(stream=stream)
    assert (row.from_state, row.to_state, row.cause) == ("wanted", "connecting", "gateway.claimed")


def test_applying_the_same_transition_twice_is_a_noop(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    stream = make_stream(make_meeting(eu))
    stream_transition(stream.pk, StreamState.STOPPED, cause="zoom.rtms_stopped", stop_reason=1)
    again = stream_transition(stream.pk, StreamState.STOPPED, cause="zoom.rtms_stopped", stop_reason=1)
    assert not again.applied
    assert StreamTransition.objects.filter(stream=stream).count() == 1


def test_an_illegal_transition_raises_and_changes_nothing(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    stream = make_stream(make_meeting(eu))
    stream_transition(stream.pk, StreamState.FAILED, cause="auth", stop_reason=18)
    with pytest.raises(IllegalTransition, match="cannot move from 'failed' to 'connected'"):
        stream_transition(stream.pk, StreamState.CONNECTED, cause="late.gateway")
    stream.refresh_from_db()
    assert stream.state == "failed" and stream.stop_reason == 18
    assert StreamTransition.objects.filter(stream=stream).count() == 1


def test_extra_fields_are_written_in_the_same_update(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    stream = make_stream(make_meeting(eu))
    stream_transition(stream.pk, StreamState.CONNECTING, cause="claim", fields={"lease_owner": "gw-1"})
    assert RtmsStream.objects.get(pk=stream.pk).lease_owner == "gw-1"


def test_meeting_end_sets_ended_at_and_is_idempotent(eu: Region, make_meeting: MakeMeeting) -> None:
    meeting = make_meeting(eu)
    assert meeting_transition(meeting.pk, MeetingState.ENDED, cause="zoom.meeting_ended").applied
    assert not meeting_transition(meeting.pk, MeetingState.ENDED, cause="reconciler").applied
    meeting.refresh_from_db()
    assert meeting.state == "ended" and meeting.ended_at is not None
    assert MeetingTransition.objects.filter(meeting=meeting).count() == 1
    with pytest.raises(IllegalTransition):
        meeting_transition(meeting.pk, MeetingState.LIVE, cause="zombie")


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_concurrent_identical_transitions_apply_exactly_once(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    stream = make_stream(make_meeting(eu))
    results: list[bool] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(
                stream_transition(stream.pk, StreamState.STOPPED, cause="race", stop_reason=6).applied
            )
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert sorted(results) == [False] * 7 + [True]
    assert StreamTransition.objects.filter(stream=stream).count() == 1
    connection.close()
