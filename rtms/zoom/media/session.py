"""The session: one RTMS stream held across connections, and the reconnect loop of zoom-protocol.md §2.6.

It owns what outlives a connection: the target (a failover replaces it), the control events (stop,
close, failover, interrupt), the handshake sequence numbers and the backoff. Each attempt is a new
:class:`Connection`; the session acts on the decision it ends with.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections.abc import Callable

from rtms.zoom.events import backoff_delay
from rtms.zoom.media.config import LOGGER_NAME, MediaClientConfig
from rtms.zoom.media.connection import Connection
from rtms.zoom.media.decisions import Finish, Reconnect, final_status
from rtms.zoom.media.scope import TASK_PREFIX, ConnectionScope
from rtms.zoom.media.sink import GuardedSink
from rtms.zoom.transport import (
    MediaSink,
    OutcomeKind,
    SessionOutcome,
    SigningCredentials,
    StatusKind,
    StreamStatus,
    StreamTarget,
)

logger = logging.getLogger(LOGGER_NAME)


async def _wait_any(events: tuple[asyncio.Event, ...], timeout: float | None) -> None:
    waiters = [asyncio.create_task(e.wait(), name=f"{TASK_PREFIX}:wait") for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


class RtmsSession:
    """One RTMS stream over WebSockets. Implements `rtms.zoom.transport.RtmsConnection`."""

    def __init__(
        self,
        target: StreamTarget,
        sink: MediaSink,
        credentials: SigningCredentials,
        config: MediaClientConfig,
        *,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._target = target
        self._sink = sink
        self._credentials = credentials
        self._config = config
        self._rng = rng or random.Random()
        self._monotonic = monotonic
        self._sequence = itertools.count(1)
        self._pending_target: StreamTarget | None = None
        self._wake = asyncio.Event()  # failover() or interrupt() asked for a reconnect
        self._closing = asyncio.Event()
        self._finished = asyncio.Event()
        self._running = False

    @property
    def target(self) -> StreamTarget:
        return self._target

    # ---- the RtmsConnection interface ----------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> SessionOutcome:
        if self._running or self._finished.is_set():
            raise RuntimeError("an RtmsSession runs once")
        self._running = True
        try:
            outcome = await self._run(stop)
        finally:
            self._finished.set()
        logger.info(
            "rtms.media.finished",
            extra={
                **self._target.ids,
                "outcome": outcome.kind.value,
                "stop_reason": outcome.stop_reason,
                "status_code": outcome.status_code,
                "error": outcome.error,
            },
        )
        await self._state(final_status(outcome))
        return outcome

    def failover(self, target: StreamTarget) -> None:
        if target.rtms_stream_id != self._target.rtms_stream_id:
            raise ValueError("failover target is another stream")
        newest = self._pending_target or self._target
        if target.generation <= newest.generation:
            # A webhook retry or a reordered delivery: never go back to older URLs.
            logger.info("rtms.media.failover_ignored", extra={**target.ids, "current": newest.generation})
            return
        logger.info("rtms.media.failover_requested", extra=target.ids)
        self._pending_target = target
        self._wake.set()

    def interrupt(self) -> None:
        logger.info("rtms.media.interrupt_requested", extra=self._target.ids)
        self._wake.set()

    async def close(self) -> None:
        # Sockets are closed with 1000 and nothing else. STREAM_CLOSE_REQ (21) would end the stream for
        # everyone (stop reason 20, which the policy then honours as a decision never to restart), and
        # our closing is only ever about this process: shutdown, a lost lease, a handover.
        self._closing.set()
        if self._running:
            await self._finished.wait()

    # ---- the reconnect loop (§2.6) -------------------------------------------------------------------

    async def _run(self, stop: asyncio.Event) -> SessionOutcome:
        cfg = self._config
        attempt = 0
        lost_since = self._monotonic()  # when we last had (or first wanted) a working connection
        while True:
            if stop.is_set() or self._closing.is_set():
                return SessionOutcome(OutcomeKind.CLOSED)
            failed_over = self._take_pending()
            if failed_over:
                attempt, lost_since = 0, self._monotonic()
            connection = Connection(
                self._target,
                self._sink,
                self._credentials,
                self._config,
                self._sequence,
                rng=self._rng,
                monotonic=self._monotonic,
            )
            decision = await connection.run(self._watch_control(stop, connection.scope))
            if isinstance(decision, Finish):
                return decision.outcome
            now = self._monotonic()
            if connection.ready:
                attempt, lost_since = 0, now
            if now - lost_since > cfg.reconnect_window_s:
                return SessionOutcome(OutcomeKind.FAILED, error="reconnect_window_exceeded")
            await self._state(StreamStatus(StatusKind.INTERRUPTED, detail=decision.reason))
            delay = 0.0
            if not (decision.immediate or self._wake.is_set()):
                delay = backoff_delay(attempt, cfg.backoff_initial_s, cfg.backoff_cap_s, self._rng)
                attempt += 1
            logger.info(
                "rtms.media.reconnect_scheduled",
                extra={**self._target.ids, "reason": decision.reason, "attempt": attempt, "delay_s": delay},
            )
            if delay > 0:
                await _wait_any((stop, self._closing, self._wake), delay)

    def _take_pending(self) -> bool:
        self._wake.clear()
        target, self._pending_target = self._pending_target, None
        if target is None:
            return False
        self._target = target
        return True

    async def _watch_control(self, stop: asyncio.Event, scope: ConnectionScope) -> None:
        await _wait_any((stop, self._closing, self._wake), None)
        if stop.is_set() or self._closing.is_set():
            scope.decide(Finish(SessionOutcome(OutcomeKind.CLOSED)))
        elif self._pending_target is not None:
            # §2.6 row 1: a new rtms_started for an active stream; close the old sockets, use new URLs.
            scope.decide(Reconnect("failover", immediate=True))
        else:
            # §2.6 row 2: rtms_interrupted; signaling and media both.
            scope.decide(Reconnect("interrupted", immediate=True))

    async def _state(self, status: StreamStatus) -> None:
        await GuardedSink(self._sink, self._target).state(status)


class WebSocketTransport:
    """`rtms.zoom.transport.RtmsTransport` on `websockets`."""

    def __init__(
        self,
        credentials: SigningCredentials,
        config: MediaClientConfig | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._credentials = credentials
        self._config = config or MediaClientConfig()
        self._rng = rng

    def open(self, target: StreamTarget, sink: MediaSink) -> RtmsSession:
        return RtmsSession(target, sink, self._credentials, self._config, rng=self._rng)
