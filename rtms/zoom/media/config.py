"""The media client's settings: deadlines, backoff, limits (zoom-protocol.md §2.5, §2.6), and its logger."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

# Every module of the client logs as this one logger: the name operators and tests already filter on.
LOGGER_NAME: Final = "rtms.zoom.media"

# Transcript lines and 20 ms audio packets are a few KiB; refuse anything absurd rather than buffer it.
MAX_FRAME_BYTES: Final = 2 * 2**20


@dataclass(frozen=True)
class MediaClientConfig:
    connect_timeout_s: float = 10.0  # bounds every network await: open, handshake reply, send, close
    keepalive_timeout_s: float = 65.0  # §2.5: no keep-alive (no frame at all) for 65 s -> re-handshake
    backoff_initial_s: float = 3.0  # §2.6: 3 s doubling to 30 s, reset after a successful handshake
    backoff_cap_s: float = 30.0
    # Give up (outcome FAILED) when no working connection is back within this long; longer than the
    # 60 s Zoom waits for signaling (§2.5), so Zoom's own verdict normally arrives first.
    reconnect_window_s: float = 90.0
    # How long an ambiguous media-interrupted signal waits for the lost media socket to show itself.
    media_grace_s: float = 1.0
    max_frame_bytes: int = MAX_FRAME_BYTES
    # Called after each keep-alive answer with the socket kind and the seconds from Zoom's timestamp on the
    # request to our answer: network delay plus our own lag reading the socket (plus any clock offset).
    on_keepalive: Callable[[str, float], None] | None = None
