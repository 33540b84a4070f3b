"""What a meeting says: its scripted or generated transcript, spoken segment by segment and sent to the
stream's ready transcript socket (each segment recorded in the ledger, delivered or lost), and the
mixed audio (a tone) on audio sockets."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from zoomsim.clock import now_ms
from zoomsim.rtms.protocol import EV_ACTIVE_SPEAKER, MEDIA_AUDIO, MEDIA_BITS, MEDIA_TRANSCRIPT
from zoomsim.rtms.state import Registry, RtConn
from zoomsim.rtms.updates import Updates
from zoomsim.sim import Simulator
from zoomsim.speech import Segment, l16_tone, run_generated, run_script
from zoomsim.state import Meeting

TONE_20MS = l16_tone(0, 320, freq=400.0)  # 400 Hz: exactly 8 periods in 20 ms at 16 kHz


class Playback:
    def __init__(self, sim: Simulator, registry: Registry, updates: Updates) -> None:
        self.sim = sim
        self.cfg = sim.config
        self.registry = registry
        self.updates = updates
        self.speakers: dict[str, list[asyncio.Task[Any]]] = {}
        self.segment_counter: dict[str, int] = {}

    def on_meeting(self, m: Meeting, change: str) -> None:
        if change == "started" and m.speak_from == "meeting_start":
            self.start_speakers(m)
        elif change == "ended":
            for task in self.speakers.get(m.uuid, []):
                task.cancel()

    def start_speakers(self, m: Meeting) -> None:
        """Start the meeting talking, once: from its start, or when its first client is ready."""
        if m.uuid in self.speakers or m.state != "live":
            return
        tasks: list[asyncio.Task[Any]] = []

        async def speak(seg: Segment) -> None:
            await self.deliver_segment(m, seg)

        if m.transcript:
            interval = self.cfg.scaled(m.segment_interval_ms / 1000)
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
        rt = self.registry.streams.get(stream.rtms_stream_id) if stream is not None else None
        index = self.segment_counter.get(m.uuid, 0)
        self.segment_counter[m.uuid] = index + 1
        ready = rt is not None and rt.ready
        paused = stream is not None and stream.state == "paused"
        target = rt.media_for(MEDIA_BITS["transcript"]) if rt is not None and ready else None
        delivered = False
        if rt is not None and ready and not paused and target is not None and not rt.silent():
            if EV_ACTIVE_SPEAKER in rt.subscriptions and rt.last_speaker != seg.user_id:
                rt.last_speaker = seg.user_id
                await self.updates.event(
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

    async def audio(self, conn: RtConn) -> None:
        """L16 16 kHz mono, mixed stream (user_id 0): a 400 Hz tone, one frame per send_rate."""
        frame = TONE_20MS * (conn.send_rate_ms // 20)
        data = base64.b64encode(frame).decode("ascii")
        interval = max(0.005, self.cfg.scaled(conn.send_rate_ms / 1000))
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

    def reset(self) -> None:
        self.speakers.clear()
        self.segment_counter.clear()
