"""Reconnection windows: how long a stream waits for a ready client (after it starts, after its
signaling socket is lost, after a failover) or for one media type to come back, before it stops."""

from __future__ import annotations

from zoomsim.rtms.protocol import STOP_AWAIT_RECONNECTION_TIMEOUT
from zoomsim.rtms.state import RtStream
from zoomsim.sim import Simulator


class Windows:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.cfg = sim.config

    def open(self, rt: RtStream, kind: str, seconds: float, reason: int) -> None:
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
            real_s=self.cfg.scaled(seconds),
        )

    def open_media(self, rt: RtStream, bits: int) -> None:
        """Wait for the media types `bits` to reconnect; when they do not in time, stop the stream."""

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
            real_s=self.cfg.scaled(self.cfg.rtms_media_window_s),
        )
