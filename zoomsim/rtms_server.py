"""The RTMS signaling and media WebSocket servers (zoom-protocol.md §2, §3, §7.5-7.6).

Routes on zoomsim's port (and on the TLS port when TLS is on):
  /rtms-<dc>/<generation>/signaling      the server_urls of meeting.rtms_started
  /rtms-<dc>/<generation>/media/<type>   type: audio video transcript deskshare chat all
A failover bumps the stream's generation: upgrades to a generation that is no longer live are refused
(HTTP 404) and existing sockets of the old generation are dropped.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import itertools
import json
import logging
import math
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from zoomsim.clock import now_ms
from zoomsim.log import log_event
from zoomsim.signing import rtms_handshake_signature
from zoomsim.speech import Segment, l16_tone, run_generated, run_script, speaker_user_id
from zoomsim.state import Meeting, Stream

if TYPE_CHECKING:
    from zoomsim.sim import Simulator

log = logging.getLogger("zoomsim.rtms")

# msg_type (§2.2)
SIG_HS_REQ, SIG_HS_RESP, DATA_HS_REQ, DATA_HS_RESP = 1, 2, 3, 4
EVENT_SUBSCRIPTION, EVENT_UPDATE, CLIENT_READY_ACK = 5, 6, 7
STREAM_STATE_UPDATE, SESSION_STATE_UPDATE, SESSION_STATE_REQ, SESSION_STATE_RESP = 8, 9, 10, 11
KEEP_ALIVE_REQ, KEEP_ALIVE_RESP = 12, 13
MEDIA_AUDIO, MEDIA_TRANSCRIPT = 14, 17
STREAM_STATE_REQ, STREAM_STATE_RESP, STREAM_CLOSE_REQ, STREAM_CLOSE_RESP = 19, 20, 21, 22
VIDEO_SUB_REQ, VIDEO_SUB_RESP = 28, 29

# status codes (§2.4.9)
ST_OK, ST_BAD_MSG_TYPE, ST_BAD_STREAM, ST_BAD_SIGNATURE, ST_BAD_PAYLOAD = 0, 1, 2, 3, 4
ST_BAD_MEDIA_TYPE, ST_DUP_SIGNAL, ST_ALL_EXISTS, ST_DUP_MEDIA = 7, 8, 15, 16

# stream states, session states, events, stop reasons (§2.4)
SS_ACTIVE, SS_INTERRUPTED, SS_TERMINATED, SS_PAUSED, SS_RESUMED = 1, 2, 4, 5, 6
SESS_STARTED, SESS_PAUSED, SESS_RESUMED, SESS_STOPPED = 2, 3, 4, 5
EV_FIRST_PACKET, EV_ACTIVE_SPEAKER, EV_JOIN, EV_LEAVE, EV_MEDIA_INTERRUPTED = 1, 2, 3, 4, 7
STOP_HOST = 1
STOP_CONNECTION_TIMEOUT = 11
STOP_DATA_INTERRUPTED = 14
STOP_DATA_CLOSED_ABNORMALLY = 16
STOP_AWAIT_RECONNECTION_TIMEOUT = 19
STOP_RECEIVER_CLOSE = 20

MEDIA_BITS = {"audio": 1, "video": 2, "deskshare": 4, "transcript": 8, "chat": 16, "all": 32}
MEDIA_NAMES = {v: k for k, v in MEDIA_BITS.items() if v != 32}
ALL_TYPES = 31
URL_TYPES = ("audio", "video", "transcript", "deskshare", "chat", "all")
# Closes the server caused on purpose that are not an interruption of the stream.
QUIET_CLOSES = frozenset({"failover", "stream_stopped", "signaling_lost", "reset", "shutdown", "refused"})
TONE_20MS = l16_tone(0, 320, freq=400.0)  # 400 Hz: exactly 8 periods in 20 ms at 16 kHz


def covered(bits: int) -> int:
    return ALL_TYPES if bits & 32 else bits


@dataclass(eq=False)
class RtConn:
    id: int
    kind: str  # signaling | media
    url_type: str  # "signaling" or one of URL_TYPES
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
    def ready(self) -> bool:
        return self.signaling is not None and self.signaling.ready and not self.ended

    def media_for(self, bit: int) -> RtConn | None:
        for c in self.media:
            if c.media_bits & bit and not c.closed:
                return c
        return None


class FaultError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class RtmsServer:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.cfg = sim.config
        self.streams: dict[str, RtStream] = {}
        self.conns: set[RtConn] = set()
        self.speakers: dict[str, list[asyncio.Task[Any]]] = {}
        self.segment_counter: dict[str, int] = {}
        self._ids = itertools.count(1)
        sim.stream_listeners.append(self.on_stream)
        sim.meeting_listeners.append(self.on_meeting)
        sim.close_hooks.append(self.close_all)

    # ---- routes ---------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(r"/{dc:rtms-[^/]+}/{gen:\d+}/signaling", self.handle_signaling)
        app.router.add_get(r"/{dc:rtms-[^/]+}/{gen:\d+}/media/{type}", self.handle_media)

    def real(self, sim_seconds: float) -> float:
        return self.cfg.scaled(sim_seconds)

    def live_generation(self, gen: int) -> bool:
        for rt in self.streams.values():
            if (
                not rt.ended
                and rt.stream.generation == gen
                and rt.stream.state in ("started", "paused", "stopping")
            ):
                return True
        return False

    def signaling_open(self, rt: RtStream | None) -> int:
        if rt is None:
            return 0
        return sum(1 for c in self.conns if c.kind == "signaling" and c.rt is rt and not c.closed)

    def _record(self, action: str, conn: RtConn, rt: RtStream | None = None, **extra: Any) -> None:
        rt = rt or conn.rt
        self.sim.ledger.record(
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
        if not self.live_generation(gen):
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
        ws = web.WebSocketResponse(autoping=True, heartbeat=None, timeout=2.0, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = RtConn(next(self._ids), kind, url_type, ws, request, gen, tls)
        conn.last_sent = asyncio.get_running_loop().time()
        self.conns.add(conn)
        keepalive: asyncio.Task[Any] | None = None
        audio: asyncio.Task[Any] | None = None
        try:
            timeout = max(1.0, self.real(self.cfg.rtms_handshake_timeout_s))
            try:
                first = await asyncio.wait_for(self._receive(ws), timeout)
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
            msg = first[0]
            ok = await (
                self._signaling_handshake(conn, msg)
                if kind == "signaling"
                else self._media_handshake(conn, msg)
            )
            if not ok:
                return ws
            keepalive = self.sim.spawn(self._keepalive(conn), f"rtms-keepalive:{conn.id}")
            if conn.media_bits & MEDIA_BITS["audio"]:
                audio = self.sim.spawn(self._audio(conn), f"rtms-audio:{conn.id}")
            while not ws.closed:
                item = await self._receive(ws)
                if item is None:
                    break
                body = item[0]
                if not isinstance(body, dict):
                    continue
                if conn.rt is not None and conn.rt.silent():
                    continue  # keepalive_silence: the server neither sends nor answers
                if kind == "signaling":
                    await self._on_signaling_message(conn, body)
                else:
                    self._on_media_message(conn, body)
        finally:
            conn.closed = True
            for t in (keepalive, audio):
                if t is not None and t is not asyncio.current_task():
                    t.cancel()
            self.conns.discard(conn)
            if conn.rt is not None:
                await self._on_closed(conn)
        return ws

    @staticmethod
    async def _receive(ws: web.WebSocketResponse) -> tuple[Any] | None:
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

    # ---- handshakes -----------------------------------------------------------------------------

    def _check(self, conn: RtConn, msg: dict[str, Any], msg_type: int) -> tuple[int, str, RtStream | None]:
        """(status, reason, stream) for a signaling or data handshake."""
        if msg.get("msg_type") != msg_type:
            return ST_BAD_MSG_TYPE, "invalid message type", None
        muid, sid, sig = msg.get("meeting_uuid"), msg.get("rtms_stream_id"), msg.get("signature")
        if not isinstance(muid, str) or not isinstance(sid, str) or not isinstance(sig, str):
            return ST_BAD_PAYLOAD, "meeting_uuid, rtms_stream_id and signature are required", None
        app = self.cfg.rtms_app
        expected = rtms_handshake_signature(app.client_id, app.client_secret, muid, sid)
        if not hmac.compare_digest(expected, sig):
            return ST_BAD_SIGNATURE, "invalid signature", self.streams.get(sid)
        rt = self.streams.get(sid)
        if (
            rt is None
            or rt.ended
            or rt.meeting.uuid != muid
            or rt.stream.state not in ("started", "paused", "stopping")
            or rt.stream.generation != conn.generation
        ):
            return ST_BAD_STREAM, "invalid rtms_stream_id", rt
        return ST_OK, "", rt

    async def _refuse(
        self, conn: RtConn, resp: dict[str, Any], status: int, reason: str, rt: RtStream | None
    ) -> bool:
        resp.update({"status_code": status, "reason": reason})
        conn.close_reason = "refused"
        await conn.send(resp, force=True)
        self._record("refused", conn, rt, status_code=status, reason=reason)
        log_event(log, "zoomsim.rtms.refused", socket=conn.kind, status_code=status, reason=reason)
        await conn.ws.close(code=1000, message=reason.encode()[:100])
        return False

    async def _signaling_handshake(self, conn: RtConn, msg: dict[str, Any]) -> bool:
        resp: dict[str, Any] = {"msg_type": SIG_HS_RESP, "protocol_version": 1, "sequence": 0}
        status, reason, rt = self._check(conn, msg, SIG_HS_REQ)
        if status == ST_OK and rt is not None and rt.signaling is not None:
            status, reason = ST_DUP_SIGNAL, "duplicate signal request"
        if status != ST_OK or rt is None:
            return await self._refuse(conn, resp, status, reason, rt)
        conn.rt = rt
        rt.signaling = conn
        base = self.sim.ws_base(tls=conn.tls)
        prefix = f"{base}/rtms-{rt.meeting.data_centre}/{rt.stream.generation}/media/"
        resp.update(
            {
                "status_code": ST_OK,
                "reason": "",
                "media_server": {"server_urls": {t: prefix + t for t in URL_TYPES}},
            }
        )
        await conn.send(resp, force=True)
        self._record("opened", conn)
        log_event(
            log, "zoomsim.rtms.signaling.opened", rtms_stream_id=rt.stream.rtms_stream_id, connection=conn.id
        )
        return True

    async def _media_handshake(self, conn: RtConn, msg: dict[str, Any]) -> bool:
        resp: dict[str, Any] = {"msg_type": DATA_HS_RESP, "protocol_version": 1, "sequence": 0}
        status, reason, rt = self._check(conn, msg, DATA_HS_REQ)
        bits = msg.get("media_type")
        if isinstance(bits, int) and not isinstance(bits, bool):
            conn.requested_bits = bits
        if status == ST_OK and rt is not None:
            if rt.signaling is None:
                status, reason = ST_BAD_STREAM, "no signaling connection for this stream"
            elif (
                not isinstance(bits, int)
                or isinstance(bits, bool)
                or bits <= 0
                or bits > 32
                or (bits & 32 and bits != 32)
            ):
                status, reason = ST_BAD_MEDIA_TYPE, "invalid media type"
            elif conn.url_type != "all" and bits != MEDIA_BITS[conn.url_type]:
                status, reason = (
                    ST_BAD_MEDIA_TYPE,
                    f"media_type {bits} does not match the {conn.url_type} URL",
                )
            else:
                existing = [c for c in rt.media if not c.closed]
                taken = 0
                for c in existing:
                    taken |= c.media_bits
                if taken & covered(bits):
                    if bits & 32 or any(c.requested_bits & 32 for c in existing):
                        status, reason = ST_ALL_EXISTS, "media data all connection exists"
                    else:
                        status, reason = ST_DUP_MEDIA, "duplicate media data connection"
        if status != ST_OK or rt is None or not isinstance(bits, int):
            return await self._refuse(conn, resp, status, reason, rt)
        conn.rt = rt
        conn.media_bits = covered(bits)
        rt.media.append(conn)
        params = msg.get("media_params") if isinstance(msg.get("media_params"), dict) else {}
        resp.update(
            {
                "status_code": ST_OK,
                "reason": "",
                "payload_encrypted": False,
                "media_params": self._media_params(conn, params or {}),
            }
        )
        await conn.send(resp, force=True)
        self._record("opened", conn)
        # A media type that was interrupted is back.
        for wbits, task in list(rt.media_windows.items()):
            if wbits & conn.media_bits:
                task.cancel()
                del rt.media_windows[wbits]
                self.sim.ledger.record(
                    "rtms.restored",
                    meeting_uuid=rt.meeting.uuid,
                    rtms_stream_id=rt.stream.rtms_stream_id,
                    window="media",
                    media_type=wbits,
                )
        rt.interrupted_media &= ~conn.media_bits
        if rt.interrupted_media == 0 and rt.ready and rt.window is None:
            await self._stream_state(rt, SS_PAUSED if rt.stream.state == "paused" else SS_ACTIVE, 0)
        return True

    def _media_params(self, conn: RtConn, req: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        b = conn.media_bits
        if b & 1:
            a = req.get("audio") if isinstance(req.get("audio"), dict) else {}
            rate = a.get("send_rate", 20) if isinstance(a, dict) else 20
            rate = rate if isinstance(rate, int) and not isinstance(rate, bool) and rate > 0 else 20
            rate = min(1000, max(20, (rate // 20) * 20))
            conn.send_rate_ms = rate
            # zoomsim always sends the protocol default: L16, 16 kHz, mono, mixed (docs/zoomsim.md).
            out["audio"] = {
                "content_type": 2,
                "sample_rate": 1,
                "channel": 1,
                "codec": 1,
                "data_opt": 1,
                "send_rate": rate,
            }
        if b & 2:
            out["video"] = {"content_type": 3, "codec": 5, "resolution": 2, "data_opt": 3, "fps": 5}
        if b & 4:
            out["deskshare"] = {"content_type": 3, "codec": 5, "resolution": 3, "fps": 1}
        if b & 8:
            t = req.get("transcript") if isinstance(req.get("transcript"), dict) else {}
            t = t or {}
            out["transcript"] = {
                "content_type": 5,
                "src_language": t.get("src_language", 9),
                "enable_lid": t.get("enable_lid", True),
            }
        if b & 16:
            out["chat"] = {"content_type": 5}
        return out

    # ---- messages -------------------------------------------------------------------------------

    def _answer_keepalive(self, conn: RtConn, body: dict[str, Any]) -> None:
        seq, ts = body.get("sequence"), body.get("timestamp")
        if isinstance(seq, int) and seq in conn.ka_outstanding:
            answered = seq
        else:
            matches = [s for s, t in conn.ka_outstanding.items() if t == ts]
            if not matches:
                return
            answered = max(matches)
        for s in [s for s in conn.ka_outstanding if s <= answered]:
            del conn.ka_outstanding[s]

    def _on_media_message(self, conn: RtConn, body: dict[str, Any]) -> None:
        if body.get("msg_type") == KEEP_ALIVE_RESP:
            self._answer_keepalive(conn, body)

    async def _on_signaling_message(self, conn: RtConn, body: dict[str, Any]) -> None:
        rt = conn.rt
        assert rt is not None
        t = body.get("msg_type")
        ts = now_ms()
        if t == KEEP_ALIVE_RESP:
            self._answer_keepalive(conn, body)
        elif t == CLIENT_READY_ACK:
            await self._on_ready(conn)
        elif t == EVENT_SUBSCRIPTION:
            events = body.get("events")
            added: set[int] = set()
            for e in events if isinstance(events, list) else []:
                if isinstance(e, dict) and isinstance(e.get("event_type"), int):
                    if e.get("subscribe", True):
                        if e["event_type"] not in rt.subscriptions:
                            added.add(e["event_type"])
                        rt.subscriptions.add(e["event_type"])
                    else:
                        rt.subscriptions.discard(e["event_type"])
            self.sim.ledger.record(
                "rtms.subscription",
                meeting_uuid=rt.meeting.uuid,
                rtms_stream_id=rt.stream.rtms_stream_id,
                subscriptions=sorted(rt.subscriptions),
            )
            if EV_JOIN in added and rt.ready:
                await self._send_join(rt)
        elif t == SESSION_STATE_REQ:
            await conn.send(
                {
                    "msg_type": SESSION_STATE_RESP,
                    "rtms_session_id": rt.session_id,
                    "state": self._session_state(rt),
                    "timestamp": ts,
                }
            )
        elif t == STREAM_STATE_REQ:
            await conn.send(
                {
                    "msg_type": STREAM_STATE_RESP,
                    "rtms_stream_id": rt.stream.rtms_stream_id,
                    "state": self._stream_state_value(rt),
                    "timestamp": ts,
                }
            )
        elif t == STREAM_CLOSE_REQ:
            await conn.send(
                {
                    "msg_type": STREAM_CLOSE_RESP,
                    "rtms_stream_id": rt.stream.rtms_stream_id,
                    "status_code": ST_OK,
                    "reason": "OK",
                    "timestamp": ts,
                }
            )
            self.sim.stop_stream_now(rt.meeting, rt.stream, STOP_RECEIVER_CLOSE)
        elif t == VIDEO_SUB_REQ:
            await conn.send(
                {
                    "msg_type": VIDEO_SUB_RESP,
                    "user_id": body.get("user_id"),
                    "status_code": ST_OK,
                    "reason": "OK",
                    "timestamp": ts,
                }
            )

    def _session_state(self, rt: RtStream) -> int:
        if rt.ended:
            return SESS_STOPPED
        if rt.stream.state == "paused":
            return SESS_PAUSED
        return SESS_STARTED if rt.ever_ready else 1  # INITIALIZE

    def _stream_state_value(self, rt: RtStream) -> int:
        if rt.ended:
            return SS_TERMINATED
        if rt.stream.state == "paused":
            return SS_PAUSED
        if rt.interrupted_media or rt.window is not None and rt.window_kind != "connect":
            return SS_INTERRUPTED
        return SS_ACTIVE if rt.ready else 0

    async def _stream_state(self, rt: RtStream, state: int, reason: int) -> None:
        if rt.signaling is None:
            return
        ok = await rt.signaling.send(
            {"msg_type": STREAM_STATE_UPDATE, "state": state, "reason": reason, "timestamp": now_ms()}
        )
        self.sim.ledger.record(
            "rtms.state",
            meeting_uuid=rt.meeting.uuid,
            rtms_stream_id=rt.stream.rtms_stream_id,
            message="stream",
            state=state,
            reason=reason,
            sent=ok,
        )

    async def _session_state_update(self, rt: RtStream, state: int, reason: int | None = None) -> None:
        if rt.signaling is None:
            return
        body: dict[str, Any] = {
            "msg_type": SESSION_STATE_UPDATE,
            "rtms_session_id": rt.session_id,
            "state": state,
            "timestamp": now_ms(),
        }
        if reason is not None:
            body["reason"] = reason
            body["stop_reason"] = reason
        ok = await rt.signaling.send(body)
        self.sim.ledger.record(
            "rtms.state",
            meeting_uuid=rt.meeting.uuid,
            rtms_stream_id=rt.stream.rtms_stream_id,
            message="session",
            state=state,
            reason=reason,
            sent=ok,
        )

    async def _event(self, rt: RtStream, event: dict[str, Any]) -> bool:
        if rt.signaling is None:
            return False
        return await rt.signaling.send({"msg_type": EVENT_UPDATE, "event": {**event, "timestamp": now_ms()}})

    def _participants(self, m: Meeting) -> list[dict[str, Any]]:
        names = [m.host.name]
        names += [str(line.get("speaker")) for line in m.transcript if line.get("speaker")]
        if m.transcript_generate:
            names += [f"Speaker {k + 1}" for k in range(int(m.transcript_generate["speakers"]))]
        seen: list[str] = []
        for n in names:
            if n not in seen:
                seen.append(n)
        return [{"user_id": speaker_user_id(n), "user_name": n} for n in seen]

    async def _send_join(self, rt: RtStream) -> None:
        await self._event(rt, {"event_type": EV_JOIN, "participants": self._participants(rt.meeting)})

    async def _on_ready(self, conn: RtConn) -> None:
        rt = conn.rt
        if rt is None or conn.ready or rt.ended:
            return
        conn.ready = True
        first = not rt.ever_ready
        rt.ever_ready = True
        if rt.window is not None:
            rt.window.cancel()
            self.sim.ledger.record(
                "rtms.restored",
                meeting_uuid=rt.meeting.uuid,
                rtms_stream_id=rt.stream.rtms_stream_id,
                window=rt.window_kind,
            )
            rt.window, rt.window_kind = None, None
        self.sim.ledger.record(
            "rtms.ready",
            meeting_uuid=rt.meeting.uuid,
            rtms_stream_id=rt.stream.rtms_stream_id,
            connection=conn.id,
            first=first,
            media=[c.url_type for c in rt.media if not c.closed],
        )
        await self._stream_state(rt, SS_ACTIVE, 0)
        await self._session_state_update(rt, SESS_STARTED)
        await self._event(rt, {"event_type": EV_FIRST_PACKET})
        if rt.stream.state == "paused":
            await self._stream_state(rt, SS_PAUSED, 0)
            await self._session_state_update(rt, SESS_PAUSED)
        if EV_JOIN in rt.subscriptions:
            await self._send_join(rt)
        if rt.meeting.speak_from == "first_client":
            self._start_speakers(rt.meeting)

    # ---- timers ---------------------------------------------------------------------------------

    async def _keepalive(self, conn: RtConn) -> None:
        loop = asyncio.get_running_loop()
        interval = max(0.005, self.real(self.cfg.rtms_keepalive_interval_s))
        while not conn.closed:
            wait = conn.last_sent + interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            rt = conn.rt
            if rt is not None and rt.silent():
                conn.ka_outstanding.clear()
                conn.last_sent = loop.time()
                continue
            if len(conn.ka_outstanding) >= self.cfg.rtms_keepalive_misses:
                conn.close_reason = "keepalive_timeout"
                self.sim.ledger.record(
                    "rtms.keepalive_timeout",
                    socket=conn.kind,
                    media=None if conn.kind == "signaling" else conn.url_type,
                    connection=conn.id,
                    meeting_uuid=rt.meeting.uuid if rt else None,
                    rtms_stream_id=rt.stream.rtms_stream_id if rt else None,
                    unanswered=sorted(conn.ka_outstanding),
                )
                await conn.ws.close(code=1001, message=b"keep-alive timeout")
                return
            conn.ka_seq += 1
            ts = now_ms()
            conn.ka_outstanding[conn.ka_seq] = ts
            if not await conn.send({"msg_type": KEEP_ALIVE_REQ, "sequence": conn.ka_seq, "timestamp": ts}):
                conn.last_sent = loop.time()

    async def _audio(self, conn: RtConn) -> None:
        """L16 16 kHz mono, mixed stream (user_id 0): a 400 Hz tone, one frame per send_rate."""
        frame = TONE_20MS * (conn.send_rate_ms // 20)
        data = base64.b64encode(frame).decode("ascii")
        interval = max(0.005, self.real(conn.send_rate_ms / 1000))
        ts = now_ms()
        while not conn.closed:
            await asyncio.sleep(interval)
            rt = conn.rt
            if rt is None or conn.closed or rt.ended:
                return
            ts += conn.send_rate_ms
            if not rt.ready or rt.stream.state == "paused":
                continue
            await conn.send(
                {
                    "msg_type": MEDIA_AUDIO,
                    "content": {"user_id": 0, "data": data, "length": len(frame), "timestamp": ts},
                }
            )

    def _open_window(self, rt: RtStream, kind: str, seconds: float, reason: int) -> None:
        """Wait for a ready client; when none comes in time, stop the stream with `reason`."""
        if rt.window is not None:
            rt.window.cancel()
        for task in rt.media_windows.values():
            task.cancel()
        rt.media_windows.clear()

        async def expire() -> None:
            await self.sim.sleep(seconds)
            rt.window = None
            self.sim.ledger.record(
                "rtms.window_expired",
                meeting_uuid=rt.meeting.uuid,
                rtms_stream_id=rt.stream.rtms_stream_id,
                window=kind,
                stop_reason=reason,
            )
            self.sim.stop_stream_now(rt.meeting, rt.stream, reason)

        rt.window_kind = kind
        rt.window = self.sim.spawn(expire(), f"rtms-window:{kind}:{rt.stream.rtms_stream_id}")
        self.sim.ledger.record(
            "rtms.window",
            meeting_uuid=rt.meeting.uuid,
            rtms_stream_id=rt.stream.rtms_stream_id,
            window=kind,
            seconds=seconds,
            real_s=self.real(seconds),
        )

    def _open_media_window(self, rt: RtStream, bits: int) -> None:
        async def expire() -> None:
            await self.sim.sleep(self.cfg.rtms_media_window_s)
            rt.media_windows.pop(bits, None)
            self.sim.ledger.record(
                "rtms.window_expired",
                meeting_uuid=rt.meeting.uuid,
                rtms_stream_id=rt.stream.rtms_stream_id,
                window="media",
                media_type=bits,
                stop_reason=STOP_AWAIT_RECONNECTION_TIMEOUT,
            )
            self.sim.stop_stream_now(rt.meeting, rt.stream, STOP_AWAIT_RECONNECTION_TIMEOUT)

        old = rt.media_windows.pop(bits, None)
        if old is not None:
            old.cancel()
        rt.media_windows[bits] = self.sim.spawn(expire(), f"rtms-media-window:{rt.stream.rtms_stream_id}")
        self.sim.ledger.record(
            "rtms.window",
            meeting_uuid=rt.meeting.uuid,
            rtms_stream_id=rt.stream.rtms_stream_id,
            window="media",
            media_type=bits,
            seconds=self.cfg.rtms_media_window_s,
            real_s=self.real(self.cfg.rtms_media_window_s),
        )

    # ---- closes and interruptions ---------------------------------------------------------------

    async def _on_closed(self, conn: RtConn) -> None:
        rt = conn.rt
        assert rt is not None
        reason = conn.close_reason or "client_closed"
        if conn.kind == "signaling" and rt.signaling is conn:
            rt.signaling = None
        if conn in rt.media:
            rt.media.remove(conn)
        self._record("closed", conn, reason=reason, close_code=conn.ws.close_code)
        log_event(log, "zoomsim.rtms.closed", socket=conn.kind, connection=conn.id, reason=reason)
        if reason in QUIET_CLOSES or rt.ended or rt.stream.state not in ("started", "paused", "stopping"):
            return
        if conn.kind == "signaling":
            if rt.signaling is not None:
                return  # not the stream's signaling socket
            for c in list(rt.media):
                c.close_reason = "signaling_lost"
                self.sim.spawn(
                    c.ws.close(code=1001, message=b"signaling connection lost"), f"rtms-close:{c.id}"
                )
            self.sim.ledger.record(
                "rtms.interrupted",
                meeting_uuid=rt.meeting.uuid,
                rtms_stream_id=rt.stream.rtms_stream_id,
                socket="signaling",
                reason=reason,
            )
            self.sim.emit(
                "meeting.rtms_interrupted",
                {"meeting_uuid": rt.meeting.uuid, "rtms_stream_id": rt.stream.rtms_stream_id},
                rt.meeting.account_id,
                meeting_uuid=rt.meeting.uuid,
                rtms_stream_id=rt.stream.rtms_stream_id,
            )
            self._open_window(
                rt, "signaling", self.cfg.rtms_signaling_window_s, STOP_AWAIT_RECONNECTION_TIMEOUT
            )
        else:
            if rt.signaling is None or not conn.media_bits:
                return
            code = STOP_DATA_CLOSED_ABNORMALLY if reason == "client_closed" else STOP_DATA_INTERRUPTED
            self.sim.ledger.record(
                "rtms.interrupted",
                meeting_uuid=rt.meeting.uuid,
                rtms_stream_id=rt.stream.rtms_stream_id,
                socket="media",
                media=conn.url_type,
                reason=reason,
            )
            rt.interrupted_media |= conn.media_bits
            self._open_media_window(rt, conn.media_bits)
            await self._event(rt, {"event_type": EV_MEDIA_INTERRUPTED})
            await self._stream_state(rt, SS_INTERRUPTED, code)

    async def _terminate(self, rt: RtStream, reason: int) -> None:
        """The stream stopped: SESSION STOPPED and STREAM TERMINATED on signaling, then close all."""
        if rt.window is not None:
            rt.window.cancel()
            rt.window = None
        for task in rt.media_windows.values():
            task.cancel()
        rt.media_windows.clear()
        if rt.signaling is not None and rt.signaling.ready:
            await self._session_state_update(rt, SESS_STOPPED, reason)
            await self._stream_state(rt, SS_TERMINATED, reason)
        conns = [c for c in self.conns if c.rt is rt]
        for c in conns:
            c.close_reason = "stream_stopped"
        await asyncio.gather(*(c.ws.close(code=1000, message=b"stream terminated") for c in conns))

    # ---- listeners ------------------------------------------------------------------------------

    def on_stream(self, m: Meeting, stream: Stream, change: str) -> asyncio.Task[Any] | None:
        sid = stream.rtms_stream_id
        rt = self.streams.get(sid)
        if change == "started":
            if rt is not None and not rt.ended:
                return None  # a failover re-announcement (handled by the fault)
            rt = RtStream(m, stream, session_id=secrets.token_hex(16))
            self.streams[sid] = rt
            self._open_window(rt, "connect", self.cfg.rtms_connect_window_s, STOP_CONNECTION_TIMEOUT)
        elif rt is None:
            return None
        elif change == "stopped":
            rt.ended = True
            connected = any(c.rt is rt for c in self.conns)
            task = self.sim.spawn(self._terminate(rt, stream.stop_reason or 0), f"rtms-terminate:{sid}")
            return task if connected else None
        elif change == "paused" and rt.ready:

            async def paused() -> None:
                await self._stream_state(rt, SS_PAUSED, 0)
                await self._session_state_update(rt, SESS_PAUSED)

            self.sim.spawn(paused(), f"rtms-paused:{sid}")
        elif change == "resumed" and rt.ready:

            async def resumed() -> None:
                await self._stream_state(rt, SS_RESUMED, 0)
                await self._session_state_update(rt, SESS_RESUMED)

            self.sim.spawn(resumed(), f"rtms-resumed:{sid}")
        return None

    def on_meeting(self, m: Meeting, change: str) -> None:
        if change == "started" and m.speak_from == "meeting_start":
            self._start_speakers(m)
        elif change == "ended":
            for task in self.speakers.get(m.uuid, []):
                task.cancel()

    def _start_speakers(self, m: Meeting) -> None:
        if m.uuid in self.speakers or m.state != "live":
            return
        tasks: list[asyncio.Task[Any]] = []

        async def speak(seg: Segment) -> None:
            await self.deliver_segment(m, seg)

        if m.transcript:
            interval = self.real(m.segment_interval_ms / 1000)
            tasks.append(
                self.sim.spawn(run_script(m.transcript, interval, speak, m.host.name), f"speak:{m.uuid}")
            )
        if m.transcript_generate:
            tasks.append(
                self.sim.spawn(
                    run_generated(m.transcript_generate, self.cfg.time_scale, speak), f"speak-gen:{m.uuid}"
                )
            )
        self.speakers[m.uuid] = tasks
        self.sim.ledger.record("rtms.speaking", meeting_uuid=m.uuid, speak_from=m.speak_from)

    async def deliver_segment(self, m: Meeting, seg: Segment) -> None:
        stream = m.active_stream
        rt = self.streams.get(stream.rtms_stream_id) if stream is not None else None
        index = self.segment_counter.get(m.uuid, 0)
        self.segment_counter[m.uuid] = index + 1
        ready = rt is not None and rt.ready
        paused = stream is not None and stream.state == "paused"
        target = rt.media_for(MEDIA_BITS["transcript"]) if rt is not None and ready else None
        delivered = False
        if rt is not None and ready and not paused and target is not None and not rt.silent():
            if EV_ACTIVE_SPEAKER in rt.subscriptions and rt.last_speaker != seg.user_id:
                rt.last_speaker = seg.user_id
                await self._event(
                    rt, {"event_type": EV_ACTIVE_SPEAKER, "user_id": seg.user_id, "user_name": seg.speaker}
                )
            delivered = await target.send({"msg_type": MEDIA_TRANSCRIPT, "content": seg.content()})
        self.sim.ledger.record(
            "rtms.segment_sent",
            meeting_uuid=m.uuid,
            rtms_stream_id=stream.rtms_stream_id if stream is not None else None,
            index=index,
            source=seg.source,
            line=seg.line,
            speaker=seg.speaker,
            user_id=seg.user_id,
            language=seg.language,
            text=seg.text,
            start_time=seg.start_time,
            ready_client=ready,
            delivered=delivered,
            paused=paused,
            connection=target.id if delivered and target is not None else None,
            signaling_connection=rt.signaling.id if rt is not None and rt.signaling is not None else None,
        )

    async def close_all(self, reason: str) -> None:
        conns = list(self.conns)
        for c in conns:
            c.close_reason = reason
        await asyncio.gather(
            *(c.ws.close(code=1001, message=reason.encode()) for c in conns), return_exceptions=True
        )
        if reason == "reset":
            self.streams.clear()
            self.speakers.clear()
            self.segment_counter.clear()

    # ---- faults (control API) -------------------------------------------------------------------

    def view(self, sid: str) -> dict[str, Any]:
        rt = self.streams.get(sid)
        if rt is None:
            raise FaultError(404, "no such stream")
        return {
            "rtms_stream_id": sid,
            "meeting_uuid": rt.meeting.uuid,
            "state": rt.stream.state,
            "generation": rt.stream.generation,
            "server_urls": rt.stream.server_urls,
            "ended": rt.ended,
            "ready": rt.ready,
            "session_id": rt.session_id,
            "signaling": rt.signaling.id if rt.signaling else None,
            "signaling_open": self.signaling_open(rt),
            "media": [{"connection": c.id, "type": c.url_type, "media_type": c.media_bits} for c in rt.media],
            "window": rt.window_kind if rt.window is not None else None,
            "media_windows": sorted(rt.media_windows),
            "silent": rt.silent(),
            "subscriptions": sorted(rt.subscriptions),
        }

    async def fault(self, sid: str, spec: dict[str, Any]) -> dict[str, Any]:
        rt = self.streams.get(sid)
        if rt is None:
            raise FaultError(404, "no such stream")
        kind = spec.get("kind")
        if rt.ended or rt.stream.state not in ("started", "paused", "stopping"):
            raise FaultError(409, f"stream is {rt.stream.state}")
        detail: dict[str, Any] = {}
        if kind == "kill_signaling":
            if rt.signaling is None:
                raise FaultError(409, "no signaling connection")
            rt.signaling.close_reason = "killed"
            detail["connection"] = rt.signaling.id
            rt.signaling.abort()
        elif kind == "kill_media":
            media = spec.get("media")
            if media is not None and media not in MEDIA_BITS:
                raise FaultError(400, "media must be one of " + ", ".join(MEDIA_BITS))
            targets = [c for c in rt.media if media is None or c.media_bits & covered(MEDIA_BITS[str(media)])]
            if not targets:
                raise FaultError(409, "no such media connection")
            for c in targets:
                c.close_reason = "killed"
                c.abort()
            detail["connections"] = [c.id for c in targets]
        elif kind == "failover":
            detail = self._failover(rt)
        elif kind == "stop":
            reason = spec.get("stop_reason", STOP_HOST)
            if not isinstance(reason, int) or isinstance(reason, bool):
                raise FaultError(400, "stop_reason must be an integer")
            self.sim.stop_stream_now(rt.meeting, rt.stream, reason)
            detail["stop_reason"] = reason
        elif kind == "keepalive_silence":
            duration = spec.get("duration_s")
            loop = asyncio.get_running_loop()
            if duration is None:
                rt.silent_until = math.inf
            elif not isinstance(duration, int | float) or isinstance(duration, bool) or duration < 0:
                raise FaultError(400, "duration_s must be a number >= 0")
            else:
                rt.silent_until = loop.time() + self.real(float(duration)) if duration > 0 else None
            detail["duration_s"] = duration
        elif kind in ("participant_join", "participant_leave"):
            name = str(spec.get("user_name") or "Guest")
            uid = spec.get("user_id", speaker_user_id(name))
            if kind == "participant_join":
                ev: dict[str, Any] = {
                    "event_type": EV_JOIN,
                    "participants": [{"user_id": uid, "user_name": name}],
                }
                wanted = EV_JOIN
            else:
                ev = {"event_type": EV_LEAVE, "participants": [{"user_id": uid}]}
                wanted = EV_LEAVE
            detail["sent"] = wanted in rt.subscriptions and rt.ready and await self._event(rt, ev)
        else:
            raise FaultError(
                400,
                "kind must be kill_signaling, kill_media, failover, stop, keepalive_silence, "
                "participant_join or participant_leave",
            )
        self.sim.ledger.record(
            "fault.rtms", meeting_uuid=rt.meeting.uuid, rtms_stream_id=sid, fault=kind, **detail
        )
        return {"fault": kind, "rtms_stream_id": sid, **detail}

    def _failover(self, rt: RtStream) -> dict[str, Any]:
        """The RTMS server fails: every socket drops, and meeting.rtms_started is sent again for the same
        stream with new server_urls (a new generation) and a new event_ts."""
        old_gen = rt.stream.generation
        conns = [c for c in self.conns if c.rt is rt]
        for c in conns:
            c.close_reason = "failover"
            c.abort()
        rt.signaling = None
        rt.media.clear()
        rt.interrupted_media = 0
        was = rt.stream.state
        self.sim.announce_stream(rt.meeting, rt.stream)
        if was in ("paused", "stopping"):
            rt.stream.state = was
        self._open_window(rt, "failover", self.cfg.rtms_signaling_window_s, STOP_AWAIT_RECONNECTION_TIMEOUT)
        return {
            "old_generation": old_gen,
            "generation": rt.stream.generation,
            "server_urls": rt.stream.server_urls,
            "connections": [c.id for c in conns],
        }
