"""The meeting and stream state machines as pure tables: no Django, so pure code (reconciler/core.py,
rtms/start_guard.py) uses the same states the models store.

Services apply a transition with a conditional UPDATE whose WHERE clause is ``ALLOWED_FROM[to]``; this
module is the single place that says which moves exist. Re-applying a transition that already happened is
a no-op, not an error, because Zoom delivers events more than once. The labels people read are the
models' (rtms/models/meetings.py).
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Final


class MeetingState(StrEnum):
    LIVE = "live"
    ENDED = "ended"


class StreamState(StrEnum):
    WANTED = "wanted"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    INTERRUPTED = "interrupted"
    PAUSED = "paused"
    STOPPED = "stopped"
    FAILED = "failed"


class RoutingStatus(StrEnum):
    PENDING = "pending"
    ROUTED = "routed"
    QUARANTINED = "quarantined"


STREAM_TERMINAL: Final = frozenset({StreamState.STOPPED, StreamState.FAILED})
STREAM_ACTIVE: Final = frozenset(set(StreamState) - STREAM_TERMINAL)

# to-state -> states it may be entered from. Self-moves are absent on purpose: re-applying is a no-op.
STREAM_ALLOWED_FROM: Final[dict[StreamState, frozenset[StreamState]]] = {
    StreamState.WANTED: frozenset(
        # back to wanted: lease lost, failover to new server_urls, or a restart asked for.
        {StreamState.CONNECTING, StreamState.CONNECTED, StreamState.INTERRUPTED, StreamState.PAUSED}
    ),
    StreamState.CONNECTING: frozenset({StreamState.WANTED, StreamState.INTERRUPTED}),
    StreamState.CONNECTED: frozenset({StreamState.CONNECTING, StreamState.PAUSED}),
    StreamState.INTERRUPTED: frozenset({StreamState.CONNECTING, StreamState.CONNECTED, StreamState.PAUSED}),
    StreamState.PAUSED: frozenset({StreamState.CONNECTING, StreamState.CONNECTED, StreamState.INTERRUPTED}),
    # From failed too: Zoom's stop for a stream the gateway gave up on records Zoom's stop reason (a
    # STREAM_REVOKED must still purge the content), and never brings the stream back.
    StreamState.STOPPED: STREAM_ACTIVE | {StreamState.FAILED},
    StreamState.FAILED: STREAM_ACTIVE,
}

MEETING_ALLOWED_FROM: Final[dict[MeetingState, frozenset[MeetingState]]] = {
    MeetingState.LIVE: frozenset(),  # a Zoom meeting uuid is one instance: it never comes back to life
    MeetingState.ENDED: frozenset({MeetingState.LIVE}),
}


class MoveVerdict(Enum):
    """What the table says of moving from one state to another."""

    APPLY = "apply"
    NOOP = "noop"
    ILLEGAL = "illegal"


def stream_move(current: StreamState, target: StreamState) -> MoveVerdict:
    if current == target:
        return MoveVerdict.NOOP
    return MoveVerdict.APPLY if current in STREAM_ALLOWED_FROM[target] else MoveVerdict.ILLEGAL


def meeting_move(current: MeetingState, target: MeetingState) -> MoveVerdict:
    if current == target:
        return MoveVerdict.NOOP
    return MoveVerdict.APPLY if current in MEETING_ALLOWED_FROM[target] else MoveVerdict.ILLEGAL
