"""The whole state-machine table, pair by pair."""

from __future__ import annotations

import itertools

import pytest

from rtms.lifecycle import (
    MEETING_ALLOWED_FROM,
    STREAM_ALLOWED_FROM,
    STREAM_TERMINAL,
    MeetingState,
    MoveVerdict,
    StreamState,
    meeting_move,
    stream_move,
)

S = StreamState
LEGAL_STREAM_MOVES = {
    (S.WANTED, S.CONNECTING),
    (S.WANTED, S.STOPPED),
    (S.WANTED, S.FAILED),
    (S.CONNECTING, S.CONNECTED),
    (S.CONNECTING, S.INTERRUPTED),
    (S.CONNECTING, S.PAUSED),
    (S.CONNECTING, S.WANTED),
    (S.CONNECTING, S.STOPPED),
    (S.CONNECTING, S.FAILED),
    (S.CONNECTED, S.INTERRUPTED),
    (S.CONNECTED, S.PAUSED),
    (S.CONNECTED, S.WANTED),
    (S.CONNECTED, S.STOPPED),
    (S.CONNECTED, S.FAILED),
    (S.INTERRUPTED, S.CONNECTING),
    (S.INTERRUPTED, S.PAUSED),
    (S.INTERRUPTED, S.WANTED),
    (S.INTERRUPTED, S.STOPPED),
    (S.INTERRUPTED, S.FAILED),
    (S.PAUSED, S.CONNECTED),
    (S.PAUSED, S.INTERRUPTED),
    (S.PAUSED, S.WANTED),
    (S.PAUSED, S.STOPPED),
    (S.PAUSED, S.FAILED),
    # Zoom's stop after the gateway gave up: the stop reason is recorded (issue #18, the poison event).
    (S.FAILED, S.STOPPED),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(StreamState, StreamState)))
def test_stream_move_matches_the_table_for_every_pair(current: StreamState, target: StreamState) -> None:
    if current == target:
        expected = MoveVerdict.NOOP
    elif (current, target) in LEGAL_STREAM_MOVES:
        expected = MoveVerdict.APPLY
    else:
        expected = MoveVerdict.ILLEGAL
    assert stream_move(current, target) is expected


def test_terminal_stream_states_never_lead_back_to_an_active_one() -> None:
    for terminal in STREAM_TERMINAL:
        reachable = {target for target, allowed in STREAM_ALLOWED_FROM.items() if terminal in allowed}
        assert reachable <= {S.STOPPED}
    assert all(S.STOPPED not in allowed for allowed in STREAM_ALLOWED_FROM.values())  # stopped is final


def test_the_table_has_no_self_moves() -> None:
    assert all(target not in allowed for target, allowed in STREAM_ALLOWED_FROM.items())
    assert all(target not in allowed for target, allowed in MEETING_ALLOWED_FROM.items())


@pytest.mark.parametrize(
    ("current", "target", "expected"),
    [
        (MeetingState.LIVE, MeetingState.ENDED, MoveVerdict.APPLY),
        (MeetingState.LIVE, MeetingState.LIVE, MoveVerdict.NOOP),
        (MeetingState.ENDED, MeetingState.ENDED, MoveVerdict.NOOP),
        (MeetingState.ENDED, MeetingState.LIVE, MoveVerdict.ILLEGAL),
    ],
)
def test_meeting_move_covers_the_whole_table(
    current: MeetingState, target: MeetingState, expected: MoveVerdict
) -> None:
    assert meeting_move(current, target) is expected
