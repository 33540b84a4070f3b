"""The signaling socket's reader: keep-alives, stream and session state, events (zoom-protocol.md §2.3, §2.6).

It decides for the connection when Zoom ends the stream, when signaling is lost or falls silent, and
hands a reported media loss to the media sockets, which reconnect only what was lost.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from rtms.zoom.media.config import LOGGER_NAME, MediaClientConfig
from rtms.zoom.media.decisions import Reconnect, finish_stopped
from rtms.zoom.media.frames import Frames
from rtms.zoom.media.media_sockets import MediaSockets
from rtms.zoom.media.scope import ConnectionScope
from rtms.zoom.media.sink import GuardedSink
from rtms.zoom.protocol import (
    AudioData,
    EventType,
    EventUpdate,
    KeepAliveReq,
    RtmsMessage,
    SessionState,
    SessionStateUpdate,
    StopReason,
    StreamStateUpdate,
    TranscriptData,
    UnknownMessage,
    ZoomStreamState,
)
from rtms.zoom.transport import StatusKind, StreamStatus, StreamTarget

logger = logging.getLogger(LOGGER_NAME)

# STREAM_STATE_UPDATE INTERRUPTED with these reasons means a media socket was lost (§2.6 row 3).
_MEDIA_LOST_REASONS: Final = frozenset(
    {StopReason.DATA_CONNECTION_INTERRUPTED, StopReason.DATA_CONNECTION_CLOSED_ABNORMALLY}
)


class SignalingReader:
    def __init__(
        self,
        target: StreamTarget,
        config: MediaClientConfig,
        scope: ConnectionScope,
        frames: Frames,
        sink: GuardedSink,
        media: MediaSockets,
    ) -> None:
        self._target = target
        self._config = config
        self._scope = scope
        self._frames = frames
        self._sink = sink
        self._media = media
        self._terminating_reason: StopReason | int | None = None

    async def read(self, ws: ClientConnection) -> None:
        while True:
            try:
                async with asyncio.timeout(self._config.keepalive_timeout_s):
                    raw = await ws.recv()
            except TimeoutError:
                # §2.5: no keep-alive for 65 s -> re-send the signaling handshake (here: both sockets).
                self._scope.decide(Reconnect("signaling_keepalive_timeout", immediate=True))
                return
            except ConnectionClosed as exc:
                if self._terminating_reason is not None:
                    self._scope.decide(finish_stopped(self._terminating_reason))
                else:
                    code = exc.rcvd.code if exc.rcvd is not None else None
                    self._scope.decide(Reconnect(f"signaling_closed_{code}"))
                return
            message = self._frames.parse(raw, "signaling")
            if message is not None:
                await self._on_message(ws, message)

    async def _on_message(self, ws: ClientConnection, message: RtmsMessage) -> None:
        if isinstance(message, KeepAliveReq):
            await self._frames.answer(ws, message, "signaling")
        elif isinstance(message, StreamStateUpdate):
            await self._on_stream_state(message)
        elif isinstance(message, SessionStateUpdate):
            await self._on_session_state(message)
        elif isinstance(message, EventUpdate):
            if message.event_type == EventType.MEDIA_CONNECTION_INTERRUPTED:
                self._media.interrupted(self._media.named_in(message), "media_interrupted_event")
            else:
                await self._sink.event(message)
        elif isinstance(message, TranscriptData | AudioData):  # not expected here, but never dropped
            await self._sink.deliver(message)
        else:
            msg_type = message.msg_type if isinstance(message, UnknownMessage) else None
            logger.info(
                "rtms.media.ignored",
                extra={
                    **self._target.ids,
                    "socket_kind": "signaling",
                    "message_kind": type(message).__name__,
                    "msg_type": msg_type,
                },
            )

    async def _on_stream_state(self, update: StreamStateUpdate) -> None:
        extra = {**self._target.ids, "state": int(update.state), "stop_reason": update.reason}
        logger.info("rtms.media.stream_state", extra=extra)
        if update.state == ZoomStreamState.TERMINATED:
            self._scope.decide(finish_stopped(update.reason))
        elif update.state == ZoomStreamState.TERMINATING:
            # Wait for TERMINATED (or the close that follows) but remember why, in case 4 never comes.
            self._terminating_reason = update.reason
        elif update.state == ZoomStreamState.PAUSED:
            await self._sink.state(StreamStatus(StatusKind.PAUSED))
        elif update.state == ZoomStreamState.RESUMED:
            await self._sink.state(StreamStatus(StatusKind.RESUMED))
        elif update.state == ZoomStreamState.INTERRUPTED:
            if update.reason in _MEDIA_LOST_REASONS:
                # §2.6 row 3: 14 is the reconnection sample's spelling of "media socket lost"; 16
                # (closed abnormally) is the same loss seen from the server.
                self._media.interrupted(None, "media_interrupted_state")
            else:
                await self._sink.state(StreamStatus(StatusKind.INTERRUPTED, update.reason, "zoom_reported"))

    async def _on_session_state(self, update: SessionStateUpdate) -> None:
        logger.info(
            "rtms.media.session_state",
            extra={**self._target.ids, "state": int(update.state), "stop_reason": update.reason},
        )
        # STARTED/STOPPED are per session (one per user, §2.3 message 9); only the stream's own
        # TERMINATED ends our connection.
        if update.state == SessionState.PAUSED:
            await self._sink.state(StreamStatus(StatusKind.PAUSED))
        elif update.state == SessionState.RESUMED:
            await self._sink.state(StreamStatus(StatusKind.RESUMED))
