"""What a person watching a meeting is told about its stream, in plain words (pure, no I/O).

The lifecycle has more states than a reader needs: a stream waiting for a gateway and one in its handshake
are both "connecting"; a stopped or failed stream of a meeting that is still running is "stopped"; once the
meeting ended everything is "ended".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rtms.lifecycle import MeetingState, StreamState


class Shown(StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    INTERRUPTED = "interrupted"
    PAUSED = "paused"
    STOPPED = "stopped"
    ENDED = "ended"


# One sentence per word, for the status line (the word alone is the badge).
EXPLANATIONS: dict[Shown, str] = {
    Shown.CONNECTING: "Connecting to the meeting's stream.",
    Shown.LIVE: "Live: new lines appear as they are spoken.",
    Shown.INTERRUPTED: "Interrupted: the stream was lost and is being reconnected. Lines spoken meanwhile "
    "may be missing.",
    Shown.PAUSED: "Paused by Zoom: nothing is transcribed until it resumes.",
    Shown.STOPPED: "Stopped: the transcript stream ended while the meeting goes on.",
    Shown.ENDED: "Ended: this is the stored transcript.",
}

_BY_STREAM: dict[str, Shown] = {
    StreamState.WANTED: Shown.CONNECTING,
    StreamState.CONNECTING: Shown.CONNECTING,
    StreamState.CONNECTED: Shown.LIVE,
    StreamState.INTERRUPTED: Shown.INTERRUPTED,
    StreamState.PAUSED: Shown.PAUSED,
    StreamState.STOPPED: Shown.STOPPED,
    StreamState.FAILED: Shown.STOPPED,
}


def shown_state(meeting_state: str, stream_state: str | None) -> Shown:
    """The word for a meeting whose newest stream is in ``stream_state`` (None: no stream yet)."""
    if meeting_state == MeetingState.ENDED:
        return Shown.ENDED
    if stream_state is None:
        return Shown.CONNECTING
    return _BY_STREAM.get(stream_state, Shown.CONNECTING)


@dataclass(frozen=True)
class StateView:
    """What the page and the list receive about a meeting's state."""

    meeting_id: int
    stream_id: int | None
    transition_id: int  # orders state messages of one stream; 0 when unknown
    shown: Shown

    def as_message(self) -> dict[str, object]:
        return {
            "type": "state",
            "meeting_id": self.meeting_id,
            "stream_id": self.stream_id,
            "transition_id": self.transition_id,
            "state": self.shown.value,
            "explanation": EXPLANATIONS[self.shown],
        }
