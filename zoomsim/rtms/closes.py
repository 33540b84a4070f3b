"""Sockets closing and streams ending. A socket that drops on its own interrupts its stream (the
client is told, a reconnection window opens); a stream that stops tells its client and closes every
socket it has."""

from __future__ import annotations

import asyncio
import logging

from zoomsim.log import log_event
from zoomsim.rtms.protocol import (
    EV_MEDIA_INTERRUPTED,
    SESS_STOPPED,
    SS_INTERRUPTED,
    SS_TERMINATED,
    STOP_AWAIT_RECONNECTION_TIMEOUT,
    STOP_DATA_CLOSED_ABNORMALLY,
    STOP_DATA_INTERRUPTED,
)
from zoomsim.rtms.state import Registry, RtConn, RtStream
from zoomsim.rtms.updates import Updates
from zoomsim.rtms.windows import Windows
from zoomsim.sim import Simulator

log = logging.getLogger("zoomsim.rtms")

# Closes the server caused on purpose that are not an interruption of the stream.
QUIET_CLOSES = frozenset({"failover", "stream_stopped", "signaling_lost", "reset", "shutdown", "refused"})


class Closes:
    def __init__(self, sim: Simulator, registry: Registry, updates: Updates, windows: Windows) -> None:
        self.sim = sim
        self.cfg = sim.config
        self.registry = registry
        self.updates = updates
        self.windows = windows

    async def on_closed(self, conn: RtConn) -> None:
        rt = conn.rt
        assert rt is not None
        reason = conn.close_reason or "client_closed"
        if conn.kind == "signaling" and rt.signaling is conn:
            rt.signaling = None
        if conn in rt.media:
            rt.media.remove(conn)
        self.registry.record("closed", conn, reason=reason, close_code=conn.ws.close_code)
        log_event(log, "zoomsim.rtms.closed", socket=conn.kind, connection=conn.id, reason=reason)
        if reason in QUIET_CLOSES or not rt.serving:
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
            self.windows.open(
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
            self.windows.open_media(rt, conn.media_bits)
            await self.updates.event(rt, {"event_type": EV_MEDIA_INTERRUPTED})
            await self.updates.stream_state(rt, SS_INTERRUPTED, code)

    async def terminate(self, rt: RtStream, reason: int) -> None:
        """The stream stopped: SESSION STOPPED and STREAM TERMINATED on signaling, then close all."""
        if rt.window is not None:
            rt.window.cancel()
            rt.window = None
        for task in rt.media_windows.values():
            task.cancel()
        rt.media_windows.clear()
        if rt.signaling is not None and rt.signaling.ready:
            await self.updates.session_state(rt, SESS_STOPPED, reason)
            await self.updates.stream_state(rt, SS_TERMINATED, reason)
        conns = self.registry.sockets_of(rt)
        for c in conns:
            c.close_reason = "stream_stopped"
        await asyncio.gather(*(c.ws.close(code=1000, message=b"stream terminated") for c in conns))
