"""Calls into the gateway's MediaSink: awaited, so a slow sink slows its socket (backpressure) and never
reorders it; a sink that fails is logged and never ends the stream."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from rtms.zoom.media.config import LOGGER_NAME
from rtms.zoom.protocol import AudioData, EventUpdate, TranscriptData
from rtms.zoom.transport import MediaSink, StreamStatus, StreamTarget

logger = logging.getLogger(LOGGER_NAME)


class GuardedSink:
    def __init__(self, sink: MediaSink, target: StreamTarget) -> None:
        self._sink = sink
        self._target = target

    async def state(self, status: StreamStatus) -> None:
        await self._call("on_state", self._sink.on_state(status))

    async def event(self, message: EventUpdate) -> None:
        await self._call("on_event", self._sink.on_event(message))

    async def deliver(self, message: TranscriptData | AudioData) -> None:
        if isinstance(message, TranscriptData):
            await self._call("on_transcript", self._sink.on_transcript(message))
        else:
            await self._call("on_audio", self._sink.on_audio(message))

    async def _call(self, name: str, call: Awaitable[None]) -> None:
        try:
            await call  # awaited: a slow sink slows this socket (backpressure), never reorders it
        except Exception as exc:
            # No traceback: the sink's exception may quote transcript text; the sink logs its own.
            logger.error(
                "rtms.media.sink_failed",
                extra={**self._target.ids, "call": name, "error": type(exc).__name__},
            )
