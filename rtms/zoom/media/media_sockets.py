"""The media sockets of one connection: read each, and when one is lost reconnect it alone (§2.6 row 3).

A loss shows itself two ways: the socket's own loop sees it close or go silent, or Zoom says so on
signaling (event 7, or stream state 2 with reason 14/16) without saying which socket. ``interrupted`` works
out which one, waiting a short grace when it cannot tell; the loops then reconnect what was lost.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Final

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from rtms.zoom.events import backoff_delay
from rtms.zoom.media.config import LOGGER_NAME, MediaClientConfig
from rtms.zoom.media.decisions import TRANSIENT, Fatal, Finish, Reconnect, Refused, finish_refused
from rtms.zoom.media.frames import Frames
from rtms.zoom.media.handshake import Handshaker
from rtms.zoom.media.scope import ConnectionScope
from rtms.zoom.media.sink import GuardedSink
from rtms.zoom.media.specs import MediaSpec, specs_for
from rtms.zoom.protocol import AudioData, EventUpdate, KeepAliveReq, StatusCode, TranscriptData
from rtms.zoom.transport import OutcomeKind, SessionOutcome, StatusKind, StreamStatus, StreamTarget

logger = logging.getLogger(LOGGER_NAME)

# A media re-handshake refused with these is the server not yet having let go of the old socket, or
# its own trouble; anything else (e.g. 9 audio not supported) will not change by asking again.
_RETRYABLE_MEDIA_STATUS: Final = frozenset(
    {StatusCode.DUPLICATE_MEDIA_DATA_CONNECTION, StatusCode.INTERNAL_EXCEPTION}
)


class MediaSockets:
    def __init__(
        self,
        target: StreamTarget,
        config: MediaClientConfig,
        scope: ConnectionScope,
        frames: Frames,
        sink: GuardedSink,
        handshaker: Handshaker,
        *,
        rng: random.Random,
        monotonic: Callable[[], float],
    ) -> None:
        self._target = target
        self._config = config
        self._scope = scope
        self._frames = frames
        self._sink = sink
        self._handshaker = handshaker
        self._rng = rng
        self._monotonic = monotonic
        self._open: dict[str, ClientConnection] = {}  # by media name; absent while down
        self._requested: set[str] = set()  # reconnect these without backoff
        self._restarted_at: dict[str, float] = {}
        self._lost_at: dict[str, float] = {}
        self._grace_pending = False

    def start(self, spec: MediaSpec, url: str, ws: ClientConnection) -> None:
        """Hold ``ws``, just handshaken at ``url``: read it, and reconnect it whenever it is lost."""
        self._open[spec.name] = ws
        self._scope.spawn(self._loop(spec, url, ws), f"media-{spec.name}")

    # ---- Zoom says a media socket was lost ---------------------------------------------------------

    def named_in(self, update: EventUpdate) -> list[str] | None:
        # The body of event 7 is UNCONFIRMED (§2.3); if it ever names a media_type, that settles it.
        flags = update.event.get("media_type")
        if isinstance(flags, int) and not isinstance(flags, bool):
            return [s.name for s in specs_for(self._target) if s.flag & flags] or None
        return None

    def interrupted(self, named: list[str] | None, why: str) -> None:
        """§2.6 row 3: reconnect that media socket only; signaling and the other media stay up.

        Neither event 7 nor state 2/14 says which socket (UNCONFIRMED), and Zoom may send both for one
        loss. So: a socket we see down, or saw go down a moment ago, is the one (its loop is on it); with
        a single media socket there is no doubt; otherwise give the lost socket a moment to show
        itself before restarting every media socket. A repeat right after a restart is the same loss.
        """
        names = named or [spec.name for spec in specs_for(self._target)]
        now = self._monotonic()
        fresh = [n for n in names if now - self._restarted_at.get(n, -1e18) > self._config.media_grace_s]
        if not fresh:
            return
        grace = self._config.media_grace_s
        lost = [n for n in fresh if n not in self._open or now - self._lost_at.get(n, -1e18) <= grace]
        if lost:
            self._requested.update(n for n in lost if n not in self._open)
            return
        if named or len(fresh) == 1:
            self._restart(fresh, why)
        elif not self._grace_pending:
            self._grace_pending = True
            self._scope.spawn(self._restart_after_grace(fresh, why, now), "media-grace")

    async def _restart_after_grace(self, names: list[str], why: str, signalled: float) -> None:
        try:
            await asyncio.sleep(self._config.media_grace_s)
            # A socket that went down meanwhile (even if already back) was the one; if none did, the
            # server sees a loss we cannot (half-open), and only restarting them all is sure to fix it.
            if not any(self._lost_at.get(n, -1e18) >= signalled for n in names):
                self._restart(names, why)
        finally:
            self._grace_pending = False

    def _restart(self, names: list[str], why: str) -> None:
        """Close these media sockets (1000); their loops reconnect them at once, without backoff."""
        for name in names:
            logger.info(
                "rtms.media.media_restart", extra={**self._target.ids, "socket_kind": name, "why": why}
            )
            self._restarted_at[name] = self._monotonic()
            self._requested.add(name)
            ws = self._open.pop(name, None)
            if ws is not None:  # None: already down and being reconnected
                self._scope.spawn(self._frames.close(ws), f"close-{name}")

    # ---- one socket's loop ---------------------------------------------------------------------------

    async def _loop(self, spec: MediaSpec, url: str, ws: ClientConnection) -> None:
        """Read one media socket; when it is lost, reconnect it alone (§2.6 row 3).

        After a media-only reconnect no second CLIENT_READY_ACK is sent: §2.3 says to send it once both
        connections are established and the SDK sends it once per join; signaling never went away, the
        server already has our ack, and it has a status (41 INVALID_CLIENT_READY_ACK) for a bad one.
        """
        cfg = self._config
        target = self._target
        name = spec.name
        while True:
            reason = await self._read(ws, name)
            self._open.pop(name, None)
            self._lost_at[name] = self._monotonic()
            await self._scope.discard(ws)
            immediate = name in self._requested or reason == "keepalive_timeout"
            self._requested.discard(name)
            logger.info("rtms.media.media_lost", extra={**target.ids, "socket_kind": name, "reason": reason})
            await self._sink.state(StreamStatus(StatusKind.INTERRUPTED, detail=f"media_{name}_{reason}"))
            lost_since = self._monotonic()
            attempt = 0
            while True:
                if not immediate:
                    await asyncio.sleep(
                        backoff_delay(attempt, cfg.backoff_initial_s, cfg.backoff_cap_s, self._rng)
                    )
                    attempt += 1
                immediate = False
                if self._monotonic() - lost_since > cfg.reconnect_window_s:
                    # The media socket will not come back alone; start again from signaling.
                    self._scope.decide(Reconnect(f"media_{name}_lost"))
                    return
                try:
                    ws = await self._handshaker.media(spec, url)
                except Refused as exc:
                    if exc.status in _RETRYABLE_MEDIA_STATUS:
                        continue
                    self._scope.decide(finish_refused(exc))
                    return
                except Fatal as exc:
                    self._scope.decide(Finish(SessionOutcome(OutcomeKind.FAILED, error=exc.error)))
                    return
                except TRANSIENT as exc:
                    logger.info(
                        "rtms.media.media_reconnect_failed",
                        extra={**target.ids, "socket_kind": name, "error": type(exc).__name__},
                    )
                    continue
                break
            self._open[name] = ws
            self._requested.discard(name)  # a request that came while reconnecting meant the old one
            logger.info("rtms.media.media_reconnected", extra={**target.ids, "socket_kind": name})
            if self._scope.ready:
                await self._sink.state(StreamStatus(StatusKind.READY, detail=f"media_{name}"))

    async def _read(self, ws: ClientConnection, kind: str) -> str:
        """Deliver frames until the socket is lost; returns why."""
        while True:
            try:
                async with asyncio.timeout(self._config.keepalive_timeout_s):
                    raw = await ws.recv()
            except TimeoutError:
                return "keepalive_timeout"
            except ConnectionClosed as exc:
                return f"closed_{exc.rcvd.code if exc.rcvd is not None else None}"
            message = self._frames.parse(raw, kind)
            if isinstance(message, KeepAliveReq):
                await self._frames.answer(ws, message, kind)
            elif isinstance(message, TranscriptData | AudioData):
                await self._sink.deliver(message)
            elif isinstance(message, EventUpdate):
                await self._sink.event(message)
            elif message is not None:
                logger.debug(
                    "rtms.media.ignored",
                    extra={**self._target.ids, "socket_kind": kind, "message_kind": type(message).__name__},
                )
