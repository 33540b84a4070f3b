"""The control API's hold on a stream (/_sim/streams/<id>): the RTMS servers' view of it, and the
faults a test injects into it (kill a socket, fail over, stop, go silent, a participant joins or
leaves)."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from zoomsim.rtms.protocol import (
    EV_JOIN,
    EV_LEAVE,
    MEDIA_BITS,
    STOP_AWAIT_RECONNECTION_TIMEOUT,
    STOP_HOST,
    covered,
)
from zoomsim.rtms.state import Registry, RtStream
from zoomsim.rtms.updates import Updates
from zoomsim.rtms.windows import Windows
from zoomsim.sim import Simulator
from zoomsim.speech import speaker_user_id


class FaultError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Faults:
    def __init__(self, sim: Simulator, registry: Registry, updates: Updates, windows: Windows) -> None:
        self.sim = sim
        self.cfg = sim.config
        self.registry = registry
        self.updates = updates
        self.windows = windows

    def view(self, sid: str) -> dict[str, Any]:
        rt = self.registry.streams.get(sid)
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
            "signaling_open": self.registry.signaling_open(rt),
            "media": [{"connection": c.id, "type": c.url_type, "media_type": c.media_bits} for c in rt.media],
            "window": rt.window_kind if rt.window is not None else None,
            "media_windows": sorted(rt.media_windows),
            "silent": rt.silent(),
            "subscriptions": sorted(rt.subscriptions),
        }

    async def fault(self, sid: str, spec: dict[str, Any]) -> dict[str, Any]:
        rt = self.registry.streams.get(sid)
        if rt is None:
            raise FaultError(404, "no such stream")
        kind = spec.get("kind")
        if not rt.serving:
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
                rt.silent_until = loop.time() + self.cfg.scaled(float(duration)) if duration > 0 else None
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
            detail["sent"] = wanted in rt.subscriptions and rt.ready and await self.updates.event(rt, ev)
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

    def refuse_signaling(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Arm a refusal of the next ``times`` signaling handshakes of any stream of a meeting (status 2,
        "invalid rtms_stream_id"), before or after its stream exists: a client that takes a refusal for
        final gives the stream up while Zoom still runs it."""
        uuid = spec.get("meeting_uuid")
        times = spec.get("times", 1)
        if not isinstance(uuid, str) or not uuid:
            raise FaultError(400, "meeting_uuid is required")
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            raise FaultError(400, "times must be an integer >= 1")
        self.registry.signaling_refusals[uuid] = times
        self.sim.ledger.record("fault.rtms", meeting_uuid=uuid, fault="refuse_signaling", times=times)
        return {"fault": "refuse_signaling", "meeting_uuid": uuid, "times": times}

    def _failover(self, rt: RtStream) -> dict[str, Any]:
        """The RTMS server fails: every socket drops, and meeting.rtms_started is sent again for the same
        stream with new server_urls (a new generation) and a new event_ts."""
        old_gen = rt.stream.generation
        conns = self.registry.sockets_of(rt)
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
        self.windows.open(rt, "failover", self.cfg.rtms_signaling_window_s, STOP_AWAIT_RECONNECTION_TIMEOUT)
        return {
            "old_generation": old_gen,
            "generation": rt.stream.generation,
            "server_urls": rt.stream.server_urls,
            "connections": [c.id for c in conns],
        }
