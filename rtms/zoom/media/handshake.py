"""Opening a socket and completing its handshake (zoom-protocol.md §2.3 messages 1 to 4, §3, §7.5).

Every socket opened here is tracked by the connection's scope at once, so teardown closes it even when
its handshake is cut short. TLS always verifies: the target's context or the system trust store.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import ssl
from collections.abc import Iterator
from typing import TypeVar
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidURI

from rtms.zoom.media.config import LOGGER_NAME, MediaClientConfig
from rtms.zoom.media.decisions import Fatal, Refused
from rtms.zoom.media.frames import Frames
from rtms.zoom.media.scope import ConnectionScope
from rtms.zoom.media.specs import MediaSpec
from rtms.zoom.protocol import (
    DataHandshakeResp,
    KeepAliveReq,
    SignalingHandshakeResp,
    media_handshake_req,
    signaling_handshake_req,
)
from rtms.zoom.signing import rtms_handshake_signature
from rtms.zoom.transport import SigningCredentials, StreamTarget

logger = logging.getLogger(LOGGER_NAME)

_M = TypeVar("_M", SignalingHandshakeResp, DataHandshakeResp)


@functools.cache
def system_tls_context() -> ssl.SSLContext:
    """The system trust store, verifying, loaded once per process: building a context reads every CA
    certificate, milliseconds of CPU that a ramp of new streams would otherwise pay per socket. A context
    is safe to share between connections."""
    return ssl.create_default_context()


class Handshaker:
    def __init__(
        self,
        target: StreamTarget,
        credentials: SigningCredentials,
        config: MediaClientConfig,
        sequence: Iterator[int],
        scope: ConnectionScope,
        frames: Frames,
    ) -> None:
        self._target = target
        self._credentials = credentials
        self._config = config
        self._sequence = sequence  # the session's: sequence numbers run on across reconnects
        self._scope = scope
        self._frames = frames

    def _signature(self) -> str:
        # §3: the same signature goes into the signaling and every media handshake.
        return rtms_handshake_signature(
            self._credentials.client_id,
            self._credentials.client_secret,
            self._target.meeting_uuid,
            self._target.rtms_stream_id,
        )

    async def signaling(self) -> tuple[ClientConnection, dict[str, str]]:
        """The signaling socket, handshaken, and the media URLs its reply lists."""
        target = self._target
        url = target.signaling_url
        assert url is not None  # StreamTarget refuses targets without one
        ws = await self._open_socket(url, "signaling")
        try:
            request = signaling_handshake_req(
                target.meeting_uuid, target.rtms_stream_id, self._signature(), next(self._sequence)
            )
            async with asyncio.timeout(self._config.connect_timeout_s):
                await ws.send(json.dumps(request, separators=(",", ":")))
                reply = await self._await_reply(ws, "signaling", SignalingHandshakeResp)
        except BaseException:
            await self._scope.discard(ws)
            raise
        if not reply.ok:
            await self._scope.discard(ws)
            raise Refused(reply.status_code, "signaling")
        logger.info(
            "rtms.media.signaling_ready", extra={**target.ids, "media_keys": sorted(reply.media_urls)}
        )
        return ws, reply.media_urls

    async def media(self, spec: MediaSpec, url: str) -> ClientConnection:
        """One media socket at ``url``, handshaken for ``spec``'s type."""
        target = self._target
        ws = await self._open_socket(url, spec.name)
        try:
            request = media_handshake_req(
                target.meeting_uuid,
                target.rtms_stream_id,
                self._signature(),
                next(self._sequence),
                spec.flag,
                spec.params,
            )
            async with asyncio.timeout(self._config.connect_timeout_s):
                await ws.send(json.dumps(request, separators=(",", ":")))
                reply = await self._await_reply(ws, spec.name, DataHandshakeResp)
        except BaseException:
            await self._scope.discard(ws)
            raise
        if not reply.ok:
            await self._scope.discard(ws)
            raise Refused(reply.status_code, spec.name)
        logger.info("rtms.media.media_ready", extra={**target.ids, "socket_kind": spec.name})
        return ws

    async def _open_socket(self, url: str, kind: str) -> ClientConnection:
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("ws", "wss"):
            raise Fatal("unsupported_url_scheme")
        context: ssl.SSLContext | None = None
        if scheme == "wss":
            # Always verifying: the target's context (checked by StreamTarget) or the system trust store.
            context = self._target.ssl_context or system_tls_context()
        cfg = self._config
        try:
            async with asyncio.timeout(cfg.connect_timeout_s):
                ws = await connect(
                    url,
                    ssl=context,
                    open_timeout=None,  # the enclosing timeout covers TCP, TLS and the upgrade
                    ping_interval=None,  # Zoom's KEEP_ALIVE_REQ/RESP is the keep-alive (§2.3)
                    close_timeout=cfg.connect_timeout_s,
                    max_size=cfg.max_frame_bytes,
                    max_queue=64,
                    compression=None,
                )
        except ssl.SSLCertVerificationError:
            # §7.5: the SDK reports 610 and does not retry; neither do we, and we never retry unverified.
            raise Fatal("tls_verification_failed") from None
        except InvalidURI:
            raise Fatal("invalid_url") from None
        self._scope.track(ws)
        logger.info("rtms.media.socket_open", extra={**self._target.ids, "socket_kind": kind})
        return ws

    async def _await_reply(self, ws: ClientConnection, kind: str, expected: type[_M]) -> _M:
        """Frames until the handshake reply; keep-alives are answered meanwhile. The caller bounds it."""
        while True:
            message = self._frames.parse(await ws.recv(), kind)
            if isinstance(message, expected):
                return message
            if isinstance(message, KeepAliveReq):
                await self._frames.answer(ws, message, kind)
            elif message is not None:
                logger.info(
                    "rtms.media.unexpected_before_handshake",
                    extra={**self._target.ids, "socket_kind": kind, "message_kind": type(message).__name__},
                )
