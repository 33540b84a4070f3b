"""The WebSocket endpoints: accept an upgrade only for a live generation, wait for the handshake,
hand each message to the socket's kind (signaling.py or media.py), run its keep-alives (and audio),
and account for the socket when it closes."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from zoomsim.rtms.closes import Closes
from zoomsim.rtms.keepalive import KeepAlive
from zoomsim.rtms.playback import Playback
from zoomsim.rtms.protocol import MEDIA_BITS, URL_TYPES
from zoomsim.rtms.state import Registry, RtConn
from zoomsim.sim import Simulator


class SocketKind(Protocol):
    async def handshake(self, conn: RtConn, msg: dict[str, Any]) -> bool: ...

    async def on_message(self, conn: RtConn, body: dict[str, Any]) -> None: ...


class Sockets:
    def __init__(
        self,
        sim: Simulator,
        registry: Registry,
        signaling: SocketKind,
        media: SocketKind,
        keepalive: KeepAlive,
        playback: Playback,
        closes: Closes,
    ) -> None:
        self.sim = sim
        self.cfg = sim.config
        self.registry = registry
        self.kinds = {"signaling": signaling, "media": media}
        self.keepalive = keepalive
        self.playback = playback
        self.closes = closes

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(r"/{dc:rtms-[^/]+}/{gen:\d+}/signaling", self.handle_signaling)
        app.router.add_get(r"/{dc:rtms-[^/]+}/{gen:\d+}/media/{type}", self.handle_media)

    async def handle_signaling(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "signaling", "signaling")

    async def handle_media(self, request: web.Request) -> web.StreamResponse:
        url_type = request.match_info["type"]
        if url_type not in URL_TYPES:
            return web.json_response({"error": "unknown media type"}, status=404)
        return await self._handle(request, "media", url_type)

    async def _handle(self, request: web.Request, kind: str, url_type: str) -> web.StreamResponse:
        gen = int(request.match_info["gen"])
        tls = request.secure
        if not self.registry.live_generation(gen):
            self.sim.ledger.record(
                "rtms.connection",
                action="refused",
                socket=kind,
                media=None if kind == "signaling" else url_type,
                generation=gen,
                tls=tls,
                reason="stale_generation",
                http_status=404,
            )
            return web.json_response({"error": "no such RTMS server"}, status=404)
        handler = self.kinds[kind]
        ws = web.WebSocketResponse(autoping=True, heartbeat=None, timeout=2.0, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = RtConn(self.registry.next_id(), kind, url_type, ws, request, gen, tls)
        conn.last_sent = asyncio.get_running_loop().time()
        self.registry.conns.add(conn)
        keepalive: asyncio.Task[Any] | None = None
        audio: asyncio.Task[Any] | None = None
        try:
            timeout = max(1.0, self.cfg.scaled(self.cfg.rtms_handshake_timeout_s))
            try:
                first = await asyncio.wait_for(receive(ws), timeout)
            except TimeoutError:
                first = None
            if first is None or not isinstance(first[0], dict):
                reason = "no_handshake" if first is None else "bad_json"
                conn.close_reason = "refused"
                self.sim.ledger.record(
                    "rtms.connection",
                    action="refused",
                    socket=kind,
                    media=None if kind == "signaling" else url_type,
                    connection=conn.id,
                    generation=gen,
                    tls=tls,
                    reason=reason,
                )
                await ws.close(code=1008, message=reason.encode())
                return ws
            if not await handler.handshake(conn, first[0]):
                return ws
            keepalive = self.sim.spawn(self.keepalive.run(conn), f"rtms-keepalive:{conn.id}")
            if conn.media_bits & MEDIA_BITS["audio"]:
                audio = self.sim.spawn(self.playback.audio(conn), f"rtms-audio:{conn.id}")
            while not ws.closed:
                item = await receive(ws)
                if item is None:
                    break
                body = item[0]
                if not isinstance(body, dict):
                    continue
                if conn.rt is not None and conn.rt.silent():
                    continue  # keepalive_silence: the server neither sends nor answers
                await handler.on_message(conn, body)
        finally:
            conn.closed = True
            for t in (keepalive, audio):
                if t is not None and t is not asyncio.current_task():
                    t.cancel()
            self.registry.conns.discard(conn)
            if conn.rt is not None:
                await self.closes.on_closed(conn)
        return ws


async def receive(ws: web.WebSocketResponse) -> tuple[Any] | None:
    """The next JSON message (text or binary frame); None when the socket closes."""
    while True:
        msg = await ws.receive()
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return None
        if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            continue
        raw = msg.data if isinstance(msg.data, str) else bytes(msg.data).decode("utf-8", "replace")
        try:
            return (json.loads(raw),)
        except ValueError:
            return ("",)
