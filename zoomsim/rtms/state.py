"""What the RTMS servers hold per socket and per stream, and the registry of both."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from zoomsim.ledger import Ledger
from zoomsim.state import Meeting, Stream

# A stream in these states has RTMS servers to connect to; any other state is over (or not begun).
SERVING_STATES = frozenset({"started", "paused", "stopping"})


@dataclass(eq=False)
class RtConn:
    id: int
    kind: str  # signaling | media
    url_type: str  # "signaling" or one of protocol.URL_TYPES
    ws: web.WebSocketResponse
    request: web.Request
    generation: int
    tls: bool
    rt: RtStream | None = None
    media_bits: int = 0  # covered media types (media sockets)
    requested_bits: int = 0
    ready: bool = False  # CLIENT_READY_ACK received (signaling)
    closed: bool = False
    close_reason: str | None = None  # set when zoomsim closes it on purpose
    last_sent: float = 0.0
    ka_seq: int = 0
    ka_outstanding: dict[int, int] = field(default_factory=dict)  # sequence -> timestamp
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    send_rate_ms: int = 20

    async def send(self, obj: dict[str, Any], force: bool = False) -> bool:
        """Send one JSON text frame; False when the socket is gone (or the stream is silenced)."""
        if self.closed or self.ws.closed:
            return False
        if not force and self.rt is not None and self.rt.silent():
            return False
        try:
            async with self.lock:
                await self.ws.send_str(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))
        except (ConnectionError, RuntimeError):
            return False
        self.last_sent = asyncio.get_running_loop().time()
        return True

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (a broken socket)."""
        self.closed = True  # no longer counted, even before its handler notices
        transport = self.request.transport
        if transport is not None:
            transport.abort()


@dataclass(eq=False)
class RtStream:
    meeting: Meeting
    stream: Stream
    session_id: str
    signaling: RtConn | None = None
    media: list[RtConn] = field(default_factory=list)
    ever_ready: bool = False
    subscriptions: set[int] = field(default_factory=set)
    window: asyncio.Task[Any] | None = None
    window_kind: str | None = None  # connect | signaling | failover
    media_windows: dict[int, asyncio.Task[Any]] = field(default_factory=dict)  # bits -> timer
    silent_until: float | None = None  # loop time; math.inf = until cleared
    ended: bool = False
    last_speaker: int | None = None
    interrupted_media: int = 0

    def silent(self) -> bool:
        if self.silent_until is None:
            return False
        if asyncio.get_running_loop().time() >= self.silent_until:
            self.silent_until = None
            return False
        return True

    @property
    def serving(self) -> bool:
        return not self.ended and self.stream.state in SERVING_STATES

    @property
    def ready(self) -> bool:
        return self.signaling is not None and self.signaling.ready and not self.ended

    def media_for(self, bit: int) -> RtConn | None:
        for c in self.media:
            if c.media_bits & bit and not c.closed:
                return c
        return None


class Registry:
    """Every stream the RTMS servers know (by rtms_stream_id) and every open socket. It also writes the
    ledger's `rtms.connection` entries, because each carries how many signaling sockets its stream has
    open (what tests read to prove one client per stream)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.streams: dict[str, RtStream] = {}
        self.conns: set[RtConn] = set()
        # Fault: the next N signaling handshakes for any stream of a meeting are refused (by meeting uuid).
        self.signaling_refusals: dict[str, int] = {}
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        return next(self._ids)

    def take_signaling_refusal(self, meeting_uuid: str) -> bool:
        """True (and one fewer left) when a signaling-refusal fault is armed for the meeting."""
        left = self.signaling_refusals.get(meeting_uuid, 0)
        if left <= 0:
            return False
        self.signaling_refusals[meeting_uuid] = left - 1
        return True

    def live_generation(self, gen: int) -> bool:
        return any(rt.serving and rt.stream.generation == gen for rt in self.streams.values())

    def sockets_of(self, rt: RtStream) -> list[RtConn]:
        return [c for c in self.conns if c.rt is rt]

    def signaling_open(self, rt: RtStream | None) -> int:
        if rt is None:
            return 0
        return sum(1 for c in self.conns if c.kind == "signaling" and c.rt is rt and not c.closed)

    def record(self, action: str, conn: RtConn, rt: RtStream | None = None, **extra: Any) -> None:
        rt = rt or conn.rt
        self.ledger.record(
            "rtms.connection",
            action=action,
            socket=conn.kind,
            media=None if conn.kind == "signaling" else conn.url_type,
            media_type=conn.requested_bits or None,
            connection=conn.id,
            generation=conn.generation,
            tls=conn.tls,
            meeting_uuid=rt.meeting.uuid if rt else None,
            rtms_stream_id=rt.stream.rtms_stream_id if rt else None,
            signaling_open=self.signaling_open(rt) if rt else None,
            **extra,
        )
