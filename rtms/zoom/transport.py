"""What the gateway holds one RTMS stream through: targets, outcomes, the sink it implements, and the
transport interface (zoom-protocol.md §1, §2.6).

The gateway depends on this module only; ``rtms/zoom/media/`` is the WebSocket implementation, and
another transport (another library, a recorded replay) could implement the same two protocols.
No I/O here.
"""

from __future__ import annotations

import asyncio
import enum
import ssl
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from rtms.zoom.protocol import AudioData, EventUpdate, MediaType, StatusCode, StopReason, TranscriptData
from rtms.zoom.stop_policy import StopPolicy

__all__ = [
    "SUPPORTED_MEDIA",
    "MediaSink",
    "OutcomeKind",
    "RtmsConnection",
    "RtmsTransport",
    "SessionOutcome",
    "SigningCredentials",
    "StatusKind",
    "StreamStatus",
    "StreamTarget",
    "split_server_urls",
]

# The media this client can receive; video/deskshare/chat are not requested by the product.
SUPPORTED_MEDIA = MediaType.TRANSCRIPT | MediaType.AUDIO

_WS_SCHEMES = ("ws", "wss")


def split_server_urls(server_urls: str) -> tuple[str, ...]:
    """zoom-protocol.md §2.1: the webhook's `server_urls` is one string, comma-separated."""
    return tuple(url.strip() for url in server_urls.split(",") if url.strip())


def _require_verifying(context: ssl.SSLContext) -> None:
    # Certificate verification is never switched off, in production or in tests (tests use a test CA).
    if context.verify_mode != ssl.CERT_REQUIRED or not context.check_hostname:
        raise ValueError("ssl_context must verify certificates and host names")


@dataclass(frozen=True)
class StreamTarget:
    """One RTMS stream at one set of server URLs. A failover (§2.6) is a new target, generation + 1."""

    meeting_uuid: str  # for webinars the webinar_uuid, sent in the meeting_uuid key (§2.3, §3)
    rtms_stream_id: str
    server_urls: tuple[str, ...]  # split_server_urls(webhook["server_urls"])
    generation: int = 1
    # Transcript is always requested; audio only where the region or account enables it.
    media: MediaType = MediaType.TRANSCRIPT
    # For wss:// URLs; None means the system trust store. Always a verifying context.
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "server_urls", tuple(self.server_urls))
        media = MediaType(self.media) | MediaType.TRANSCRIPT
        if media & ~SUPPORTED_MEDIA:
            raise ValueError("only transcript and audio media are supported")
        object.__setattr__(self, "media", media)
        if self.ssl_context is not None:
            _require_verifying(self.ssl_context)
        if self.signaling_url is None:
            raise ValueError("server_urls holds no ws:// or wss:// URL")

    @property
    def signaling_url(self) -> str | None:
        """The WebSocket URL among `server_urls` (§2.1: several protocols may be listed)."""
        for url in self.server_urls:
            if urlsplit(url).scheme.lower() in _WS_SCHEMES:
                return url
        return None

    @property
    def ids(self) -> dict[str, object]:
        """Log fields: ids only, never the meeting uuid's owner data or a signature."""
        return {"rtms_stream_id": self.rtms_stream_id, "generation": self.generation}


class SigningCredentials(Protocol):
    """The RTMS app's client id and secret (zoom-protocol.md §3); `RtmsAppCredentials` fits."""

    @property
    def client_id(self) -> str: ...

    @property
    def client_secret(self) -> str: ...


class StatusKind(enum.Enum):
    CONNECTING = "connecting"
    READY = "ready"  # every handshake done, CLIENT_READY_ACK sent
    INTERRUPTED = "interrupted"  # a socket is lost and being reconnected; `detail` says which
    PAUSED = "paused"
    RESUMED = "resumed"
    STOPPED = "stopped"  # Zoom ended the stream; `reason` is the stop reason
    FAILED = "failed"  # refused, duplicate or unreachable; `detail` says why
    CLOSED = "closed"  # we closed it (stop event or close())


@dataclass(frozen=True)
class StreamStatus:
    kind: StatusKind
    reason: StopReason | int | None = None
    detail: str = ""


class OutcomeKind(enum.Enum):
    STOPPED = "stopped"  # Zoom terminated the stream for a reason that is not retried
    RESTART_REQUESTED = "restart_requested"  # terminated for a retryable reason: restart via REST
    REFUSED = "refused"  # a handshake answered status != 0 (e.g. 3 INVALID_SIGNATURE)
    DUPLICATE = "duplicate"  # status 8: someone else holds the stream; we do not fight for it
    FAILED = "failed"  # could not get (back) to a working connection; `error` says why
    CLOSED = "closed"  # our own stop; the stream itself goes on for everyone else


@dataclass(frozen=True)
class SessionOutcome:
    kind: OutcomeKind
    stop_reason: StopReason | int | None = None
    policy: StopPolicy | None = None
    status_code: StatusCode | int | None = None
    error: str = ""  # FAILED: why; REFUSED: which socket refused ("signaling", "transcript", "audio")


class MediaSink(Protocol):
    """Implemented by the gateway. Calls for one socket arrive in order; a slow sink slows that socket."""

    async def on_transcript(self, data: TranscriptData) -> None: ...

    async def on_audio(self, data: AudioData) -> None: ...

    async def on_state(self, status: StreamStatus) -> None: ...

    async def on_event(self, event: EventUpdate) -> None: ...


class RtmsConnection(Protocol):
    """One stream held by a transport."""

    async def run(self, stop: asyncio.Event) -> SessionOutcome:
        """Hold the stream until it ends or `stop` is set; reconnects per §2.6 in between."""
        ...

    def failover(self, target: StreamTarget) -> None:
        """A new `rtms_started` for this active stream: move to the new URLs (§2.6 row 1)."""
        ...

    def interrupt(self) -> None:
        """An `rtms_interrupted` webhook: reconnect signaling and media (§2.6 row 2)."""
        ...

    async def close(self) -> None:
        """Close our sockets without ending the stream for anyone else; returns when run() has."""
        ...


class RtmsTransport(Protocol):
    def open(self, target: StreamTarget, sink: MediaSink) -> RtmsConnection: ...
