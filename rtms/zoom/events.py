"""Client for Zoom's event-subscription WebSocket (zoom-protocol.md §5): pure asyncio transport.

It connects, keeps the socket alive with heartbeats, hands every event body to a callback in order,
and reconnects with capped, fully jittered exponential backoff. It knows nothing of the database:
events sent while no socket is open are lost for good (Zoom never replays them), so the caller
reconciles after every (re)connection through ``on_connected``.

Logs are event names with ids; never the access token (it is in the URL) or event payloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rtms.zoom.protocol import (
    BuildConnection,
    Heartbeat,
    ProtocolError,
    UnknownFrame,
    WsMessage,
    heartbeat_frame,
    parse_ws_frame,
)

__all__ = ["EventSubscription", "SubscriptionConfig", "backoff_delay", "subscription_url"]

logger = logging.getLogger(__name__)

# Close code for a bad, expired or revoked token (our simulator uses it; UNCONFIRMED for Zoom).
CLOSE_POLICY_VIOLATION: Final = 1008
# Event bodies are small JSON documents; refuse anything absurd rather than buffer it.
MAX_FRAME_BYTES: Final = 4 * 2**20
_MAX_ATTEMPT_EXPONENT: Final = 60


@dataclass(frozen=True)
class SubscriptionConfig:
    url: str  # ZOOM_EVENTS_WS_URL, e.g. wss://ws.zoom.us/ws
    subscription_id: str
    heartbeat_interval_s: float  # Zoom asks for 30 s
    connect_timeout_s: float  # opening handshake + the build_connection answer; also bounds sends/close
    backoff_initial_s: float = 1.0
    backoff_cap_s: float = 60.0
    idle_timeout_s: float | None = None  # no frame at all for this long -> reconnect; None: 3 heartbeats

    @property
    def idle_s(self) -> float:
        return self.idle_timeout_s if self.idle_timeout_s is not None else 3 * self.heartbeat_interval_s


def backoff_delay(attempt: int, initial_s: float, cap_s: float, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(cap, initial * 2**attempt)], attempt counting from 0."""
    ceiling = min(cap_s, initial_s * 2 ** min(max(attempt, 0), _MAX_ATTEMPT_EXPONENT))
    return rng.uniform(0.0, ceiling)


def subscription_url(base: str, subscription_id: str, token: str) -> str:
    """`base` with subscriptionId and access_token set (URL-encoded); other query parameters kept."""
    parts = urlsplit(base)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in ("subscriptionId", "access_token")
    ]
    query += [("subscriptionId", subscription_id), ("access_token", token)]
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass
class _Session:
    """What one connection attempt ended with."""

    reason: str
    connected: bool = False
    auth_failed: bool = False  # the next attempt must force a token refresh
    events: int = 0
    duration_s: float = 0.0


class _OpenFailed(Exception):
    def __init__(self, session: _Session) -> None:
        super().__init__(session.reason)
        self.session = session


class _AuthRefused(Exception):
    def __init__(self, content: str) -> None:
        super().__init__(content)
        self.content = content


class EventSubscription:
    def __init__(
        self,
        config: SubscriptionConfig,
        *,
        get_token: Callable[[bool], Awaitable[str]],
        on_event: Callable[[dict[str, object]], Awaitable[None]],
        on_connected: Callable[[], Awaitable[None]] | None = None,
        on_disconnected: Callable[[str], Awaitable[None]] | None = None,
        on_refused: Callable[[str], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._get_token = get_token
        self._on_event = on_event
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        # Told the reason of each frame that could not be read (ProtocolError.reason), so the product
        # counts and records it as it does a refused webhook; the subscription goes on either way.
        self._on_refused = on_refused
        self._rng = rng or random.Random()
        self._monotonic = monotonic
        self._ids = {"subscription_id": config.subscription_id}

    async def run(self, stop: asyncio.Event) -> None:
        """Stay subscribed until `stop` is set. Never raises, except CancelledError when cancelled."""
        attempt = 0
        force_refresh = False
        while not stop.is_set():
            try:
                session = await self._session(stop, force_refresh)
            except Exception as exc:  # a bug here must not end the subscription
                logger.exception("events.session_crashed", extra={**self._ids, "error": type(exc).__name__})
                session = _Session(reason="crashed")
            if stop.is_set():
                break
            force_refresh = session.auth_failed
            healthy = session.connected and (
                session.events > 0 or session.duration_s > self._config.backoff_cap_s
            )
            if healthy:
                attempt = 0
            delay = backoff_delay(
                attempt, self._config.backoff_initial_s, self._config.backoff_cap_s, self._rng
            )
            attempt += 1
            logger.info(
                "events.reconnect_scheduled",
                extra={**self._ids, "reason": session.reason, "attempt": attempt, "delay_s": round(delay, 3)},
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
        logger.info("events.stopped", extra=self._ids)

    # ---- one connection -------------------------------------------------------------------------

    async def _session(self, stop: asyncio.Event, force_refresh: bool) -> _Session:
        # Opening races `stop`, so a stop never waits out a slow token fetch or handshake.
        opening = asyncio.create_task(self._open(force_refresh), name="events-open")
        stopped = asyncio.create_task(stop.wait(), name="events-open-stop")
        try:
            await asyncio.wait({opening, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for racer in (opening, stopped):
                if not racer.done():
                    racer.cancel()
            await asyncio.gather(opening, stopped, return_exceptions=True)
        if opening.cancelled():
            return _Session(reason="stopped")
        failure = opening.exception()
        if isinstance(failure, _OpenFailed):
            return failure.session
        if failure is not None:
            raise failure
        ws, connection_text = opening.result()

        started = self._monotonic()
        session = _Session(reason="closed", connected=True)
        logger.info("events.connected", extra={**self._ids, "server": connection_text[:100]})
        heartbeats = asyncio.create_task(self._heartbeats(ws), name="events-heartbeat")
        stopper = asyncio.create_task(self._close_on(stop, ws), name="events-stop")
        try:
            await self._callback(self._on_connected, "on_connected")
            session.reason = await self._receive(ws, session)
        finally:
            for task in (heartbeats, stopper):
                task.cancel()
            await asyncio.gather(heartbeats, stopper, return_exceptions=True)
            await self._close(ws)
            session.duration_s = self._monotonic() - started
        if stop.is_set():
            session.reason = "stopped"
        code = ws.close_code
        session.auth_failed = code == CLOSE_POLICY_VIOLATION
        logger.info(
            "events.disconnected",
            extra={**self._ids, "reason": session.reason, "code": code, "events": session.events},
        )
        await self._callback(self._on_disconnected, "on_disconnected", session.reason)
        return session

    async def _open(self, force_refresh: bool) -> tuple[ClientConnection, str]:
        """Token, opening handshake and a successful build_connection; raises _OpenFailed otherwise.

        A socket opened here is closed here on any failure, cancellation included.
        """
        cfg = self._config
        try:
            async with asyncio.timeout(cfg.connect_timeout_s):
                token = await self._get_token(force_refresh)
        except Exception as exc:
            error = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            logger.warning("events.token_failed", extra={**self._ids, "error": error})
            raise _OpenFailed(_Session(reason="token_failed", auth_failed=force_refresh)) from None

        url = subscription_url(cfg.url, cfg.subscription_id, token)
        ws: ClientConnection | None = None
        try:
            async with asyncio.timeout(cfg.connect_timeout_s):
                ws = await connect(
                    url,
                    open_timeout=None,  # the enclosing timeout covers the handshake and build_connection
                    ping_interval=None,  # Zoom's keep-alive is the application heartbeat
                    close_timeout=cfg.connect_timeout_s,
                    max_size=MAX_FRAME_BYTES,
                    max_queue=64,
                )
                return ws, await self._await_build_connection(ws)
        except BaseException as exc:
            await self._close(ws)
            if not isinstance(exc, Exception):  # cancellation
                raise
            raise _OpenFailed(self._open_failure(exc)) from None

    def _open_failure(self, exc: Exception) -> _Session:
        # Never str(exc): connection errors may quote the URL, and the URL holds the token.
        if isinstance(exc, _AuthRefused):
            logger.warning("events.auth_refused", extra={**self._ids, "content": exc.content[:100]})
            return _Session(reason="auth_refused", auth_failed=True)
        if isinstance(exc, InvalidStatus):  # e.g. 503 while Zoom's side is down
            status = exc.response.status_code
            logger.warning("events.connect_failed", extra={**self._ids, "error": "http", "status": status})
            return _Session(reason=f"http_{status}", auth_failed=status in (401, 403))
        if isinstance(exc, ConnectionClosed):
            code = exc.rcvd.code if exc.rcvd is not None else None
            logger.warning("events.connect_failed", extra={**self._ids, "error": "closed", "code": code})
            return _Session(reason=f"closed_{code}", auth_failed=code == CLOSE_POLICY_VIOLATION)
        error = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
        logger.warning("events.connect_failed", extra={**self._ids, "error": error})
        return _Session(reason=f"connect_{error}")

    async def _await_build_connection(self, ws: ClientConnection) -> str:
        """Frames until build_connection; the caller bounds this with the connect timeout."""
        while True:
            frame = await self._parse(await ws.recv())
            if isinstance(frame, BuildConnection):
                if not frame.success:
                    raise _AuthRefused(frame.content)
                return frame.content
            if isinstance(frame, WsMessage):  # unexpected this early, but an event is never dropped
                await self._deliver(frame)

    async def _receive(self, ws: ClientConnection, session: _Session) -> str:
        idle = self._config.idle_s
        while True:
            try:
                async with asyncio.timeout(idle):
                    raw = await ws.recv()
            except TimeoutError:
                logger.warning("events.idle_timeout", extra={**self._ids, "idle_s": idle})
                return "idle_timeout"
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else None
                return f"closed_{code}"
            frame = await self._parse(raw)
            if isinstance(frame, WsMessage):
                session.events += 1
                await self._deliver(frame)

    async def _parse(self, raw: str | bytes) -> BuildConnection | Heartbeat | WsMessage | None:
        """A known frame, or None for one to skip (bad JSON, unknown module): logged, never fatal."""
        try:
            text = raw.decode() if isinstance(raw, bytes) else raw
            frame = parse_ws_frame(text)
        except (ProtocolError, UnicodeDecodeError) as exc:
            logger.warning("events.bad_frame", extra={**self._ids, "error": type(exc).__name__})
            reason = exc.reason if isinstance(exc, ProtocolError) else "invalid_json"
            await self._callback(self._on_refused, "on_refused", reason)
            return None
        if isinstance(frame, UnknownFrame):
            logger.warning("events.unknown_frame", extra={**self._ids, "frame_module": frame.module[:64]})
            return None
        return frame

    async def _deliver(self, frame: WsMessage) -> None:
        body = frame.event_body
        event, event_ts = body.get("event"), body.get("event_ts")
        extra = {
            **self._ids,
            "event": event if isinstance(event, str) else None,
            "event_ts": event_ts if isinstance(event_ts, int) else None,
        }
        try:
            await self._on_event(body)  # awaited: a slow consumer slows reading (backpressure)
        except Exception as exc:  # the subscription outlives a failing consumer; the event is lost
            # No traceback: the caller's exception may quote payload data; the caller logs its own.
            logger.error("events.handler_failed", extra={**extra, "error": type(exc).__name__})
        else:
            logger.debug("events.delivered", extra=extra)

    async def _heartbeats(self, ws: ClientConnection) -> None:
        frame = heartbeat_frame()
        while True:
            try:
                async with asyncio.timeout(self._config.connect_timeout_s):
                    await ws.send(frame)
            except (ConnectionClosed, TimeoutError) as exc:
                # The receive loop notices the close, or the silence (idle timeout).
                logger.info("events.heartbeat_failed", extra={**self._ids, "error": type(exc).__name__})
                return
            await asyncio.sleep(self._config.heartbeat_interval_s)

    async def _close_on(self, stop: asyncio.Event, ws: ClientConnection) -> None:
        await stop.wait()
        await self._close(ws)

    async def _close(self, ws: ClientConnection | None) -> None:
        if ws is None:
            return
        try:
            # close() has its own close_timeout; this is a backstop for a stuck transport.
            async with asyncio.timeout(self._config.connect_timeout_s + 1.0):
                await ws.close()
        except Exception as exc:
            logger.info("events.close_failed", extra={**self._ids, "error": type(exc).__name__})
            ws.transport.abort()

    async def _callback(
        self, callback: Callable[..., Awaitable[None]] | None, name: str, *args: object
    ) -> None:
        if callback is None:
            return
        try:
            await callback(*args)
        except Exception as exc:
            logger.error(
                "events.callback_failed", extra={**self._ids, "callback": name, "error": type(exc).__name__}
            )
