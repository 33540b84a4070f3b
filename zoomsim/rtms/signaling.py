"""The signaling socket: its handshake (which hands out the media URLs), the client's ready ack that
makes the stream flow, and its requests (subscriptions, state queries, close, video subscription)."""

from __future__ import annotations

import logging
from typing import Any

from zoomsim.clock import now_ms
from zoomsim.log import log_event
from zoomsim.rtms import keepalive
from zoomsim.rtms.handshake import check, refuse
from zoomsim.rtms.playback import Playback
from zoomsim.rtms.protocol import (
    CLIENT_READY_ACK,
    EV_FIRST_PACKET,
    EV_JOIN,
    EVENT_SUBSCRIPTION,
    KEEP_ALIVE_RESP,
    SESS_INITIALIZE,
    SESS_PAUSED,
    SESS_STARTED,
    SESS_STOPPED,
    SESSION_STATE_REQ,
    SESSION_STATE_RESP,
    SIG_HS_REQ,
    SIG_HS_RESP,
    SS_ACTIVE,
    SS_INTERRUPTED,
    SS_PAUSED,
    SS_TERMINATED,
    ST_BAD_STREAM,
    ST_DUP_SIGNAL,
    ST_OK,
    STOP_RECEIVER_CLOSE,
    STREAM_CLOSE_REQ,
    STREAM_CLOSE_RESP,
    STREAM_STATE_REQ,
    STREAM_STATE_RESP,
    URL_TYPES,
    VIDEO_SUB_REQ,
    VIDEO_SUB_RESP,
)
from zoomsim.rtms.state import Registry, RtConn, RtStream
from zoomsim.rtms.updates import Updates
from zoomsim.sim import Simulator

log = logging.getLogger("zoomsim.rtms")


class Signaling:
    def __init__(self, sim: Simulator, registry: Registry, updates: Updates, playback: Playback) -> None:
        self.sim = sim
        self.cfg = sim.config
        self.registry = registry
        self.updates = updates
        self.playback = playback

    async def handshake(self, conn: RtConn, msg: dict[str, Any]) -> bool:
        resp: dict[str, Any] = {"msg_type": SIG_HS_RESP, "protocol_version": 1, "sequence": 0}
        status, reason, rt = check(self.cfg.rtms_app, self.registry, conn, msg, SIG_HS_REQ)
        if status == ST_OK and rt is not None and self.registry.take_signaling_refusal(rt.meeting.uuid):
            # The refusal fault: Zoom's server does not know the stream (yet), as after a server hiccup.
            status, reason = ST_BAD_STREAM, "invalid rtms_stream_id"
        elif status == ST_OK and rt is not None and rt.signaling is not None:
            status, reason = ST_DUP_SIGNAL, "duplicate signal request"
        if status != ST_OK or rt is None:
            return await refuse(self.registry, conn, resp, status, reason, rt)
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
        self.registry.record("opened", conn)
        log_event(
            log, "zoomsim.rtms.signaling.opened", rtms_stream_id=rt.stream.rtms_stream_id, connection=conn.id
        )
        return True

    async def on_message(self, conn: RtConn, body: dict[str, Any]) -> None:
        rt = conn.rt
        assert rt is not None
        t = body.get("msg_type")
        ts = now_ms()
        if t == KEEP_ALIVE_RESP:
            keepalive.answer(conn, body)
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
                await self.updates.join(rt)
        elif t == SESSION_STATE_REQ:
            await conn.send(
                {
                    "msg_type": SESSION_STATE_RESP,
                    "rtms_session_id": rt.session_id,
                    "state": session_state(rt),
                    "timestamp": ts,
                }
            )
        elif t == STREAM_STATE_REQ:
            await conn.send(
                {
                    "msg_type": STREAM_STATE_RESP,
                    "rtms_stream_id": rt.stream.rtms_stream_id,
                    "state": stream_state(rt),
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
        await self.updates.stream_state(rt, SS_ACTIVE, 0)
        await self.updates.session_state(rt, SESS_STARTED)
        await self.updates.event(rt, {"event_type": EV_FIRST_PACKET})
        if rt.stream.state == "paused":
            await self.updates.stream_state(rt, SS_PAUSED, 0)
            await self.updates.session_state(rt, SESS_PAUSED)
        if EV_JOIN in rt.subscriptions:
            await self.updates.join(rt)
        if rt.meeting.speak_from == "first_client":
            self.playback.start_speakers(rt.meeting)


def session_state(rt: RtStream) -> int:
    """The session state a SESSION_STATE_REQ is answered with."""
    if rt.ended:
        return SESS_STOPPED
    if rt.stream.state == "paused":
        return SESS_PAUSED
    return SESS_STARTED if rt.ever_ready else SESS_INITIALIZE


def stream_state(rt: RtStream) -> int:
    """The stream state a STREAM_STATE_REQ is answered with (0: no ready client yet)."""
    if rt.ended:
        return SS_TERMINATED
    if rt.stream.state == "paused":
        return SS_PAUSED
    if rt.interrupted_media or rt.window is not None and rt.window_kind != "connect":
        return SS_INTERRUPTED
    return SS_ACTIVE if rt.ready else 0
