"""A scripted RTMS server on 127.0.0.1 for the media client's tests (zoom-protocol.md §2.7).

It plays Zoom's side in the documented order: 2 (media URLs pointing back at itself) → 4 per media
socket → after CLIENT_READY_ACK: 8{ACTIVE}, 9{STARTED}, 6{FIRST_PACKET}. Everything else (media,
keep-alives, state changes, drops) the test sends explicitly. Every received message and every client
close code is recorded, so tests assert on what the server saw.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import ssl
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from rtms.zoom.protocol import AudioData, EventUpdate, TranscriptData
from rtms.zoom.transport import StreamStatus
from zoomsim.tls import ensure_tls_files

SIGNALING_PATH = "/signal"
MEDIA_KEYS = ("transcript", "audio")


def expected_signature(client_id: str, client_secret: str, meeting_uuid: str, stream_id: str) -> str:
    """zoom-protocol.md §3, computed independently of rtms.zoom.signing."""
    message = f"{client_id},{meeting_uuid},{stream_id}".encode()
    return hmac.new(client_secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass
class Conn:
    kind: str  # "signaling" or a media key
    ws: ServerConnection
    received: list[dict[str, Any]] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    close_code: int | None = None  # what the client sent; 1006 when the connection just died
    primed: asyncio.Event = field(default_factory=asyncio.Event)  # the after-ready messages went out

    def of_type(self, msg_type: int) -> list[dict[str, Any]]:
        return [m for m in self.received if m.get("msg_type") == msg_type]


class ScriptedRtmsServer:
    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        signaling_status: int = 0,
        media_status: dict[str, list[int]] | None = None,
        media_keys: tuple[str, ...] = MEDIA_KEYS,
        ssl_context: ssl.SSLContext | None = None,
        host_name: str = "127.0.0.1",
        preamble: tuple[dict[str, Any], ...] = (),
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.signaling_status = signaling_status
        self.media_status = media_status or {}  # per key, statuses consumed one per handshake
        self.media_keys = media_keys
        self.ssl_context = ssl_context
        self.host_name = host_name
        self.preamble = preamble  # sent on signaling before the handshake reply
        self.conns: list[Conn] = []
        self.log: list[tuple[str, int]] = []  # (socket kind, msg_type) in arrival order
        self._server: Server | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        scheme = "wss" if self.ssl_context else "ws"
        return f"{scheme}://{self.host_name}:{self.port}"

    @property
    def signaling_url(self) -> str:
        return self.base_url + SIGNALING_PATH

    async def __aenter__(self) -> ScriptedRtmsServer:
        self._server = await serve(self._handler, "127.0.0.1", 0, ssl=self.ssl_context, ping_interval=None)
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    # ---- what the test reads -------------------------------------------------------------------

    def of(self, kind: str) -> list[Conn]:
        return [c for c in self.conns if c.kind == kind]

    def latest(self, kind: str) -> Conn:
        return self.of(kind)[-1]

    def count(self, kind: str, msg_type: int) -> int:
        return sum(1 for k, t in self.log if k == kind and t == msg_type)

    # ---- what the test does --------------------------------------------------------------------

    async def send(self, kind: str, message: dict[str, Any], *, binary: bool = False) -> None:
        conn = self.latest(kind)
        if kind == "signaling":
            # The client is ready before this side has read its ack; keep the §2.7 order regardless.
            await asyncio.wait_for(conn.primed.wait(), 5)
        text = json.dumps(message)
        await conn.ws.send(text.encode() if binary else text)

    def drop(self, kind: str) -> None:
        """Kill the latest socket of `kind` without a close frame (an abnormal close, 1006)."""
        self.latest(kind).ws.transport.abort()

    # ---- the scripted side ---------------------------------------------------------------------

    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        path = ws.request.path
        kind = "signaling" if path == SIGNALING_PATH else path.removeprefix("/media/")
        conn = Conn(kind, ws)
        self.conns.append(conn)
        try:
            async for raw in ws:
                message = json.loads(raw)
                conn.received.append(message)
                self.log.append((kind, message.get("msg_type")))
                reply = self._react(conn, message)
                if reply is not None:
                    await reply
        except ConnectionClosed:
            pass
        finally:
            conn.close_code = ws.close_code
            conn.closed.set()

    def _signature_ok(self, message: dict[str, Any]) -> bool:
        want = expected_signature(
            self.client_id, self.client_secret, message["meeting_uuid"], message["rtms_stream_id"]
        )
        return hmac.compare_digest(want, str(message.get("signature")))

    def _react(self, conn: Conn, message: dict[str, Any]) -> Awaitable[None] | None:
        msg_type = message.get("msg_type")
        if conn.kind == "signaling" and msg_type == 1:
            status = self.signaling_status if self._signature_ok(message) else 3
            urls = {key: f"{self.base_url}/media/{key}" for key in self.media_keys}
            body: dict[str, Any] = {"msg_type": 2, "protocol_version": 1, "sequence": 0}
            body |= {"status_code": status, "reason": "" if status == 0 else "refused"}
            if status == 0:
                body["media_server"] = {"server_urls": urls}
            return self._handshake_reply(conn, body)
        if conn.kind != "signaling" and msg_type == 3:
            planned = self.media_status.get(conn.kind, [])
            status = planned.pop(0) if planned else 0
            if not self._signature_ok(message):
                status = 3
            return self._send(
                conn,
                {
                    "msg_type": 4,
                    "protocol_version": 1,
                    "status_code": status,
                    "reason": "",
                    "media_params": {},
                },
            )
        if conn.kind == "signaling" and msg_type == 7:
            return self._after_ready(conn)
        return None

    async def _handshake_reply(self, conn: Conn, body: dict[str, Any]) -> None:
        for message in self.preamble:
            await self._send(conn, message)
        await self._send(conn, body)

    async def _send(self, conn: Conn, body: dict[str, Any]) -> None:
        await conn.ws.send(json.dumps(body))

    async def _after_ready(self, conn: Conn) -> None:
        now = int(time.time() * 1000)
        await self._send(conn, {"msg_type": 8, "state": 1, "timestamp": now})
        await self._send(conn, {"msg_type": 9, "state": 2, "rtms_session_id": "sess-1", "timestamp": now})
        await self._send(conn, {"msg_type": 6, "event": {"event_type": 1, "timestamp": now}})
        conn.primed.set()


class RecordingSink:
    """A MediaSink that keeps everything, in arrival order."""

    def __init__(self) -> None:
        self.transcripts: list[TranscriptData] = []
        self.audio: list[AudioData] = []
        self.states: list[StreamStatus] = []
        self.events: list[EventUpdate] = []

    async def on_transcript(self, data: TranscriptData) -> None:
        self.transcripts.append(data)

    async def on_audio(self, data: AudioData) -> None:
        self.audio.append(data)

    async def on_state(self, status: StreamStatus) -> None:
        self.states.append(status)

    async def on_event(self, event: EventUpdate) -> None:
        self.events.append(event)


# ---- a throwaway CA and a localhost certificate --------------------------------------------------


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context


def make_tls_files(directory: Path, name: str = "test") -> TlsFiles:
    """A CA and a certificate for DNS:localhost it signed (§7.5: a DNS-name SAN, a hostname URL): the same
    generator zoomsim uses for its wss:// port. Each ``name`` gets its own, unrelated CA."""
    files = ensure_tls_files(str(directory / name))
    return TlsFiles(Path(files.ca), Path(files.cert), Path(files.key))
