"""The meeting and stream state machines as pure tables.

Services apply a transition with a conditional UPDATE whose WHERE clause is ``ALLOWED_FROM[to]``; this
module is the single place that says which moves exist. Re-applying a transition that already happened is
a no-op, not an error, because Zoom delivers events more than once.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

from django.db import models


class MeetingState(models.TextChoices):
    LIVE = "live", "Live"
    ENDED = "ended", "Ended"


class StreamState(models.TextChoices):
    WANTED = "wanted", "Wanted (waiting for a gateway)"
    CONNECTING = "connecting", "Connecting"
    CONNECTED = "connected", "Connected"
    INTERRUPTED = "interrupted", "Interrupted (reconnecting)"
    PAUSED = "paused", "Paused by Zoom"
    STOPPED = "stopped", "Stopped"
    FAILED = "failed", "Failed"


class RoutingStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ROUTED = "routed", "Routed"
    QUARANTINED = "quarantined", "Quarantined (no residency rule matched)"


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
    StreamState.STOPPED: STREAM_ACTIVE,
    StreamState.FAILED: STREAM_ACTIVE,
}

MEETING_ALLOWED_FROM: Final[dict[MeetingState, frozenset[MeetingState]]] = {
    MeetingState.LIVE: frozenset(),  # a Zoom meeting uuid is one instance: it never comes back to life
    MeetingState.ENDED: frozenset({MeetingState.LIVE}),
}


class Move(Enum):
    APPLY = "apply"
    NOOP = "noop"
    ILLEGAL = "illegal"


def stream_move(current: StreamState, target: StreamState) -> Move:
    if current == target:
        return Move.NOOP
    return Move.APPLY if current in STREAM_ALLOWED_FROM[target] else Move.ILLEGAL


def meeting_move(current: MeetingState, target: MeetingState) -> Move:
    if current == target:
        return Move.NOOP
    return Move.APPLY if current in MEETING_ALLOWED_FROM[target] else Move.ILLEGAL
