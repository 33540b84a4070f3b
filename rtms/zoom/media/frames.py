"""Frames on an open socket: parse what arrives, send with a deadline, answer keep-alives, close with 1000.

Used by the handshakes and by the signaling and media readers alike; it holds no state of its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from typing import Final

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from rtms.zoom.media.config import LOGGER_NAME, MediaClientConfig
from rtms.zoom.protocol import KeepAliveReq, RtmsMessage, keep_alive_resp, parse_rtms_message
from rtms.zoom.transport import StreamTarget

logger = logging.getLogger(LOGGER_NAME)

CLOSE_NORMAL: Final = 1000


class Frames:
    def __init__(self, target: StreamTarget, config: MediaClientConfig) -> None:
        self._target = target
        self._config = config

    def parse(self, raw: str | bytes, kind: str) -> RtmsMessage | None:
        """A message, or None for a frame to skip: logged, never fatal. Binary frames carry JSON too."""
        try:
            return parse_rtms_message(json.loads(raw))
        except (ValueError, RecursionError) as exc:  # ProtocolError and JSON/Unicode errors included
            logger.warning(
                "rtms.media.bad_frame",
                extra={**self._target.ids, "socket_kind": kind, "error": type(exc).__name__},
            )
            return None

    async def answer(self, ws: ClientConnection, request: KeepAliveReq, kind: str) -> None:
        # §2.3 messages 12/13: on the socket it came on, echoing sequence and timestamp.
        await self.send(ws, keep_alive_resp(request), kind, required=False)
        if self._config.on_keepalive is not None:
            self._config.on_keepalive(kind, max(0.0, time.time() - request.timestamp / 1000))

    async def send(
        self, ws: ClientConnection, message: Mapping[str, object], kind: str, *, required: bool = True
    ) -> None:
        try:
            async with asyncio.timeout(self._config.connect_timeout_s):
                await ws.send(json.dumps(message, separators=(",", ":")))
        except (ConnectionClosed, TimeoutError) as exc:
            if required:
                raise
            # The reader notices the close or the silence and reconnects.
            logger.info(
                "rtms.media.send_failed",
                extra={**self._target.ids, "socket_kind": kind, "error": type(exc).__name__},
            )

    async def close(self, ws: ClientConnection) -> None:
        try:
            # close() has its own close_timeout; this is a backstop for a stuck transport.
            async with asyncio.timeout(self._config.connect_timeout_s + 1.0):
                await ws.close(code=CLOSE_NORMAL)
        except Exception as exc:
            logger.info("rtms.media.close_failed", extra={**self._target.ids, "error": type(exc).__name__})
            ws.transport.abort()
