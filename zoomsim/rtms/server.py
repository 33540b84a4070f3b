"""RtmsServer: the simulated RTMS servers, wired together and hooked into the Simulator (stream and
meeting changes, reset and shutdown). zoomsim's app mounts its routes and the control API uses its
`view` and `fault`."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from aiohttp import web

from zoomsim.rtms.closes import Closes
from zoomsim.rtms.faults import Faults
from zoomsim.rtms.keepalive import KeepAlive
from zoomsim.rtms.media import Media
from zoomsim.rtms.playback import Playback
from zoomsim.rtms.protocol import (
    SESS_PAUSED,
    SESS_RESUMED,
    SS_PAUSED,
    SS_RESUMED,
    STOP_CONNECTION_TIMEOUT,
)
from zoomsim.rtms.signaling import Signaling
from zoomsim.rtms.sockets import Sockets
from zoomsim.rtms.state import Registry, RtStream
from zoomsim.rtms.updates import Updates
from zoomsim.rtms.windows import Windows
from zoomsim.sim import Simulator
from zoomsim.state import Meeting, Stream


class RtmsServer:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.cfg = sim.config
        self.registry = Registry(sim.ledger)
        self.updates = Updates(sim.ledger)
        self.windows = Windows(sim)
        self.playback = Playback(sim, self.registry, self.updates)
        self.closes = Closes(sim, self.registry, self.updates, self.windows)
        self.faults = Faults(sim, self.registry, self.updates, self.windows)
        self.sockets = Sockets(
            sim,
            self.registry,
            signaling=Signaling(sim, self.registry, self.updates, self.playback),
            media=Media(sim, self.registry, self.updates),
            keepalive=KeepAlive(sim),
            playback=self.playback,
            closes=self.closes,
        )
        sim.stream_listeners.append(self.on_stream)
        sim.meeting_listeners.append(self.playback.on_meeting)
        sim.close_hooks.append(self.close_all)

    def add_routes(self, app: web.Application) -> None:
        self.sockets.add_routes(app)

    def view(self, sid: str) -> dict[str, Any]:
        return self.faults.view(sid)

    async def fault(self, sid: str, spec: dict[str, Any]) -> dict[str, Any]:
        return await self.faults.fault(sid, spec)

    def refuse_signaling(self, spec: dict[str, Any]) -> dict[str, Any]:
        return self.faults.refuse_signaling(spec)

    def on_stream(self, m: Meeting, stream: Stream, change: str) -> asyncio.Task[Any] | None:
        """Zoom's side changed a stream. A returned task is the teardown the Simulator waits for before
        it sends meeting.rtms_stopped."""
        sid = stream.rtms_stream_id
        rt = self.registry.streams.get(sid)
        if change == "started":
            if rt is not None and not rt.ended:
                return None  # a failover re-announcement (handled by the fault)
            rt = RtStream(m, stream, session_id=secrets.token_hex(16))
            self.registry.streams[sid] = rt
            self.windows.open(rt, "connect", self.cfg.rtms_connect_window_s, STOP_CONNECTION_TIMEOUT)
        elif rt is None:
            return None
        elif change == "stopped":
            rt.ended = True
            connected = bool(self.registry.sockets_of(rt))
            task = self.sim.spawn(self.closes.terminate(rt, stream.stop_reason or 0), f"rtms-terminate:{sid}")
            return task if connected else None
        elif change == "paused" and rt.ready:
            self.sim.spawn(self._tell(rt, SS_PAUSED, SESS_PAUSED), f"rtms-paused:{sid}")
        elif change == "resumed" and rt.ready:
            self.sim.spawn(self._tell(rt, SS_RESUMED, SESS_RESUMED), f"rtms-resumed:{sid}")
        return None

    async def _tell(self, rt: RtStream, stream_state: int, session_state: int) -> None:
        await self.updates.stream_state(rt, stream_state, 0)
        await self.updates.session_state(rt, session_state)

    async def close_all(self, reason: str) -> None:
        conns = list(self.registry.conns)
        for c in conns:
            c.close_reason = reason
        await asyncio.gather(
            *(c.ws.close(code=1001, message=reason.encode()) for c in conns), return_exceptions=True
        )
        if reason == "reset":
            self.registry.streams.clear()
            self.registry.signaling_refusals.clear()
            self.playback.reset()
