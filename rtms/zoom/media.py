"""Our own RTMS client on `websockets` (zoom-protocol.md §1, §2, §3); the gateway's default transport.

One :class:`RtmsSession` holds one stream: a signaling socket, one media socket per requested type
(transcript always, audio where enabled), keep-alive answers on every socket, and the failover table of
§2.6. It knows nothing of the database: data and state changes go to a :class:`MediaSink`, and the
session ends with a :class:`SessionOutcome` the caller acts on (record, restart through REST, alert).

Logs are event names with ids (stream id, generation, socket kind); never transcript text, user names,
the signature or the client secret.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Final, TypeVar
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from rtms.zoom.events import backoff_delay
from rtms.zoom.protocol import (
    AudioChannel,
    AudioData,
    Codec,
    ContentType,
    DataHandshakeResp,
    DataOption,
    EventType,
    EventUpdate,
    KeepAliveReq,
    MediaType,
    RtmsMessage,
    SampleRate,
    SessionState,
    SessionStateUpdate,
    SignalingHandshakeResp,
    StatusCode,
    StopReason,
    StreamState,
    StreamStateUpdate,
    TranscriptData,
    UnknownMessage,
    client_ready_ack,
    event_subscription,
    keep_alive_resp,
    media_handshake_req,
    parse_rtms_message,
    signaling_handshake_req,
)
from rtms.zoom.signing import rtms_handshake_signature
from rtms.zoom.stop_policy import StopPolicy, stop_policy
from rtms.zoom.transport import (
    MediaSink,
    OutcomeKind,
    SessionOutcome,
    SigningCredentials,
    StatusKind,
    StreamStatus,
    StreamTarget,
)

__all__ = ["MediaClientConfig", "RtmsSession", "WebSocketTransport"]

logger = logging.getLogger(__name__)

CLOSE_NORMAL: Final = 1000
# Transcript lines and 20 ms audio packets are a few KiB; refuse anything absurd rather than buffer it.
MAX_FRAME_BYTES: Final = 2 * 2**20
_TASK_PREFIX: Final = "rtms-media"

# zoom-protocol.md §2.3 message 5: FIRST_PACKET_TIMESTAMP and MEDIA_CONNECTION_INTERRUPTED come unasked.
SUBSCRIBED_EVENTS: Final = (
    EventType.ACTIVE_SPEAKER_CHANGE,
    EventType.PARTICIPANT_JOIN,
    EventType.PARTICIPANT_LEAVE,
)

# STREAM_STATE_UPDATE INTERRUPTED with these reasons means a media socket was lost (§2.6 row 3).
_MEDIA_LOST_REASONS: Final = frozenset(
    {StopReason.DATA_CONNECTION_INTERRUPTED, StopReason.DATA_CONNECTION_CLOSED_ABNORMALLY}
)
# A media re-handshake refused with these is the server not yet having let go of the old socket, or
# its own trouble; anything else (e.g. 9 audio not supported) will not change by asking again.
_RETRYABLE_MEDIA_STATUS: Final = frozenset(
    {StatusCode.DUPLICATE_MEDIA_DATA_CONNECTION, StatusCode.INTERNAL_EXCEPTION}
)


@dataclass(frozen=True)
class MediaClientConfig:
    connect_timeout_s: float = 10.0  # bounds every network await: open, handshake reply, send, close
    keepalive_timeout_s: float = 65.0  # §2.5: no keep-alive (no frame at all) for 65 s -> re-handshake
    backoff_initial_s: float = 3.0  # §2.6: 3 s doubling to 30 s, reset after a successful handshake
    backoff_cap_s: float = 30.0
    # Give up (outcome FAILED) when no working connection is back within this long; longer than the
    # 60 s Zoom waits for signaling (§2.5), so Zoom's own verdict normally arrives first.
    reconnect_window_s: float = 90.0
    # How long an ambiguous media-interrupted signal waits for the lost media socket to show itself.
    media_grace_s: float = 1.0
    max_frame_bytes: int = MAX_FRAME_BYTES
    # Called after each keep-alive answer with the socket kind and the seconds from Zoom's timestamp on the
    # request to our answer: network delay plus our own lag reading the socket (plus any clock offset).
    on_keepalive: Callable[[str, float], None] | None = None


@dataclass(frozen=True)
class _MediaSpec:
    name: str  # the key in media_server.server_urls and in media_params (§2.3)
    flag: MediaType
    params: Mapping[str, object]


# zoom-protocol.md §2.3 message 3, one socket per type to the per-type URL key, as the SDK does (§2.1).
_MEDIA_SPECS: Final = (
    _MediaSpec("transcript", MediaType.TRANSCRIPT, {"transcript": {"content_type": int(ContentType.TEXT)}}),
    # §2.4.5 protocol defaults, spelled out: L16, 16 kHz, mono, mixed stream, 20 ms.
    _MediaSpec(
        "audio",
        MediaType.AUDIO,
        {
            "audio": {
                "content_type": int(ContentType.RAW_AUDIO),
                "sample_rate": int(SampleRate.SR_16K),
                "channel": int(AudioChannel.MONO),
                "codec": int(Codec.L16),
                "data_opt": int(DataOption.AUDIO_MIXED_STREAM),
                "send_rate": 20,
            }
        },
    ),
)


@dataclass(frozen=True)
class _Finish:
    outcome: SessionOutcome


@dataclass(frozen=True)
class _Reconnect:
    reason: str
    immediate: bool = False  # Zoom or the gateway asked for it: no backoff before the first attempt


_Decision = _Finish | _Reconnect


class _Refused(Exception):
    def __init__(self, status: StatusCode | int, socket_kind: str) -> None:
        super().__init__(f"{socket_kind} handshake refused")
        self.status = status
        self.socket_kind = socket_kind


class _Fatal(Exception):
    """Retrying cannot help: no media URL, a TLS downgrade, a certificate that does not verify."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


# What a failed open or handshake may raise that a later attempt may not.
_TRANSIENT: Final = (OSError, TimeoutError, ConnectionClosed, InvalidHandshake)

_M = TypeVar("_M", SignalingHandshakeResp, DataHandshakeResp)


# asyncio (3.11 and later) gives every TLS connection a read buffer of SSLProtocol.max_size, 256 KiB,
# allocated and zero-filled when it connects: with two sockets per stream, over 600 KB of RSS per stream
# (bench/gateway.py --tls), four times the gateway's budget. One maximum-size TLS record is enough: a
# larger frame is only read in more calls.
TLS_READ_BUFFER_BYTES = 16 * 1024


def limit_tls_read_buffers(size: int = TLS_READ_BUFFER_BYTES) -> None:
    """Process-wide, for the TLS connections opened after the call (the gateway calls it at start-up)."""
    import asyncio.sslproto

    asyncio.sslproto.SSLProtocol.max_size = size


@functools.cache
def system_tls_context() -> ssl.SSLContext:
    """The system trust store, verifying, loaded once per process: building a context reads every CA
    certificate, milliseconds of CPU that a ramp of new streams would otherwise pay per socket. A context
    is safe to share between connections."""
    return ssl.create_default_context()


def _finish_stopped(reason: StopReason | int | None) -> _Finish:
    """§2.6 last row and §2.4.10: one table (stop_policy) says whether a restart is wanted."""
    policy = stop_policy(reason)
    kind = OutcomeKind.RESTART_REQUESTED if policy is StopPolicy.RESTART else OutcomeKind.STOPPED
    return _Finish(SessionOutcome(kind, stop_reason=reason, policy=policy))


async def _wait_any(events: tuple[asyncio.Event, ...], timeout: float | None) -> None:
    waiters = [asyncio.create_task(e.wait(), name=f"{_TASK_PREFIX}:wait") for e in events]
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
        # State of the current connection; reset by _connection().
        self._decision: asyncio.Future[_Decision] | None = None
        self._sockets: set[ClientConnection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._media_ws: dict[str, ClientConnection] = {}
        self._media_requested: set[str] = set()  # reconnect these without backoff
        self._media_restarted_at: dict[str, float] = {}
        self._media_lost_at: dict[str, float] = {}
        self._media_grace_pending = False
        self._ready = False
        self._terminating_reason: StopReason | int | None = None

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
        await self._state(self._final_status(outcome))
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
            decision = await self._connection(stop)
            if isinstance(decision, _Finish):
                return decision.outcome
            now = self._monotonic()
            if self._ready:
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

    async def _connection(self, stop: asyncio.Event) -> _Decision:
        """One signaling socket and its media sockets, from open to the first decision about them."""
        self._decision = asyncio.get_running_loop().create_future()
        self._ready = False
        self._terminating_reason = None
        self._media_ws.clear()
        self._media_requested.clear()
        self._media_restarted_at.clear()
        self._media_lost_at.clear()
        self._media_grace_pending = False
        target = self._target
        self._spawn(self._establish(target), "establish")
        self._spawn(self._watch_control(stop), "control")
        try:
            return await self._decision
        finally:
            await self._teardown()

    def _decide(self, decision: _Decision) -> None:
        if self._decision is not None and not self._decision.done():
            self._decision.set_result(decision)

    async def _watch_control(self, stop: asyncio.Event) -> None:
        await _wait_any((stop, self._closing, self._wake), None)
        if stop.is_set() or self._closing.is_set():
            self._decide(_Finish(SessionOutcome(OutcomeKind.CLOSED)))
        elif self._pending_target is not None:
            # §2.6 row 1: a new rtms_started for an active stream; close the old sockets, use new URLs.
            self._decide(_Reconnect("failover", immediate=True))
        else:
            # §2.6 row 2: rtms_interrupted; signaling and media both.
            self._decide(_Reconnect("interrupted", immediate=True))

    def _spawn(self, coro: Coroutine[object, object, None], name: str) -> None:
        task = asyncio.create_task(coro, name=f"{_TASK_PREFIX}:{self._target.rtms_stream_id}:{name}")
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._reap(done, name))

    def _reap(self, task: asyncio.Task[None], name: str) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        # A bug in one task must not leave the stream unheld: log it and reconnect.
        error = task.exception()
        logger.error(
            "rtms.media.task_crashed",
            extra={**self._target.ids, "task": name, "error": type(error).__name__},
            exc_info=error,
        )
        self._decide(_Reconnect(f"crashed_{name}"))

    async def _teardown(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        sockets = list(self._sockets)
        self._sockets.clear()
        self._media_ws.clear()
        await asyncio.gather(*(self._close_socket(ws) for ws in sockets), return_exceptions=True)

    # ---- establishing ------------------------------------------------------------------------------

    async def _establish(self, target: StreamTarget) -> None:
        await self._state(StreamStatus(StatusKind.CONNECTING))
        try:
            signaling, media_urls = await self._open_signaling(target)
            self._spawn(self._read_signaling(signaling), "signaling")
            secure = urlsplit(target.signaling_url or "").scheme.lower() == "wss"
            for spec in self._specs(target):
                url = media_urls.get(spec.name)
                if url is None:
                    raise _Fatal(f"no_{spec.name}_url")
                if secure and urlsplit(url).scheme.lower() != "wss":
                    raise _Fatal("insecure_media_url")  # never let a handshake reply downgrade TLS
                ws = await self._open_media(target, spec, url)
                self._media_ws[spec.name] = ws
                self._spawn(self._media_loop(target, spec, url, ws), f"media-{spec.name}")
            # §2.3 message 7: on signaling, once every media handshake has succeeded.
            await self._send(signaling, client_ready_ack(target.rtms_stream_id), "signaling")
            await self._send(signaling, event_subscription(SUBSCRIBED_EVENTS), "signaling")
        except _Refused as exc:
            logger.warning(
                "rtms.media.refused",
                extra={**target.ids, "socket_kind": exc.socket_kind, "status_code": int(exc.status)},
            )
            self._decide(self._refusal(exc))
            return
        except _Fatal as exc:
            logger.warning("rtms.media.connect_fatal", extra={**target.ids, "error": exc.error})
            self._decide(_Finish(SessionOutcome(OutcomeKind.FAILED, error=exc.error)))
            return
        except _TRANSIENT as exc:
            logger.warning("rtms.media.connect_failed", extra={**target.ids, "error": type(exc).__name__})
            self._decide(_Reconnect(f"connect_failed_{type(exc).__name__}"))
            return
        self._ready = True
        logger.info("rtms.media.ready", extra={**target.ids, "media": int(target.media)})
        await self._state(StreamStatus(StatusKind.READY))

    @staticmethod
    def _refusal(exc: _Refused) -> _Finish:
        # §2.1: status 8 means another connection holds this stream's signaling. Someone else (another
        # gateway, or a ghost of ours Zoom has not dropped yet) has it; asking again could kick them out.
        if exc.socket_kind == "signaling" and exc.status == StatusCode.DUPLICATE_SIGNAL_REQUEST:
            return _Finish(SessionOutcome(OutcomeKind.DUPLICATE, status_code=exc.status))
        return _Finish(SessionOutcome(OutcomeKind.REFUSED, status_code=exc.status, error=exc.socket_kind))

    @staticmethod
    def _specs(target: StreamTarget) -> list[_MediaSpec]:
        return [spec for spec in _MEDIA_SPECS if spec.flag in target.media]

    def _signature(self, target: StreamTarget) -> str:
        # §3: the same signature goes into the signaling and every media handshake.
        return rtms_handshake_signature(
            self._credentials.client_id,
            self._credentials.client_secret,
            target.meeting_uuid,
            target.rtms_stream_id,
        )

    async def _open_signaling(self, target: StreamTarget) -> tuple[ClientConnection, dict[str, str]]:
        url = target.signaling_url
        assert url is not None  # StreamTarget refuses targets without one
        ws = await self._open_socket(url, target, "signaling")
        try:
            request = signaling_handshake_req(
                target.meeting_uuid, target.rtms_stream_id, self._signature(target), next(self._sequence)
            )
            async with asyncio.timeout(self._config.connect_timeout_s):
                await ws.send(json.dumps(request, separators=(",", ":")))
                reply = await self._await_reply(ws, "signaling", SignalingHandshakeResp)
        except BaseException:
            await self._discard(ws)
            raise
        if not reply.ok:
            await self._discard(ws)
            raise _Refused(reply.status_code, "signaling")
        logger.info(
            "rtms.media.signaling_ready", extra={**target.ids, "media_keys": sorted(reply.media_urls)}
        )
        return ws, reply.media_urls

    async def _open_media(self, target: StreamTarget, spec: _MediaSpec, url: str) -> ClientConnection:
        ws = await self._open_socket(url, target, spec.name)
        try:
            request = media_handshake_req(
                target.meeting_uuid,
                target.rtms_stream_id,
                self._signature(target),
                next(self._sequence),
                spec.flag,
                spec.params,
            )
            async with asyncio.timeout(self._config.connect_timeout_s):
                await ws.send(json.dumps(request, separators=(",", ":")))
                reply = await self._await_reply(ws, spec.name, DataHandshakeResp)
        except BaseException:
            await self._discard(ws)
            raise
        if not reply.ok:
            await self._discard(ws)
            raise _Refused(reply.status_code, spec.name)
        logger.info("rtms.media.media_ready", extra={**target.ids, "socket_kind": spec.name})
        return ws

    async def _open_socket(self, url: str, target: StreamTarget, kind: str) -> ClientConnection:
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("ws", "wss"):
            raise _Fatal("unsupported_url_scheme")
        context: ssl.SSLContext | None = None
        if scheme == "wss":
            # Always verifying: the target's context (checked by StreamTarget) or the system trust store.
            context = target.ssl_context or system_tls_context()
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
            raise _Fatal("tls_verification_failed") from None
        except InvalidURI:
            raise _Fatal("invalid_url") from None
        self._sockets.add(ws)
        logger.info("rtms.media.socket_open", extra={**target.ids, "socket_kind": kind})
        return ws

    async def _await_reply(self, ws: ClientConnection, kind: str, expected: type[_M]) -> _M:
        """Frames until the handshake reply; keep-alives are answered meanwhile. The caller bounds it."""
        while True:
            message = self._parse(await ws.recv(), kind)
            if isinstance(message, expected):
                return message
            if isinstance(message, KeepAliveReq):
                await self._answer(ws, message, kind)
            elif message is not None:
                logger.info(
                    "rtms.media.unexpected_before_handshake",
                    extra={**self._target.ids, "socket_kind": kind, "message_kind": type(message).__name__},
                )

    # ---- signaling ---------------------------------------------------------------------------------

    async def _read_signaling(self, ws: ClientConnection) -> None:
        while True:
            try:
                async with asyncio.timeout(self._config.keepalive_timeout_s):
                    raw = await ws.recv()
            except TimeoutError:
                # §2.5: no keep-alive for 65 s -> re-send the signaling handshake (here: both sockets).
                self._decide(_Reconnect("signaling_keepalive_timeout", immediate=True))
                return
            except ConnectionClosed as exc:
                if self._terminating_reason is not None:
                    self._decide(_finish_stopped(self._terminating_reason))
                else:
                    code = exc.rcvd.code if exc.rcvd is not None else None
                    self._decide(_Reconnect(f"signaling_closed_{code}"))
                return
            message = self._parse(raw, "signaling")
            if message is not None:
                await self._on_signaling(ws, message)

    async def _on_signaling(self, ws: ClientConnection, message: RtmsMessage) -> None:
        if isinstance(message, KeepAliveReq):
            await self._answer(ws, message, "signaling")
        elif isinstance(message, StreamStateUpdate):
            await self._on_stream_state(message)
        elif isinstance(message, SessionStateUpdate):
            await self._on_session_state(message)
        elif isinstance(message, EventUpdate):
            if message.event_type == EventType.MEDIA_CONNECTION_INTERRUPTED:
                self._on_media_interrupted(self._named_media(message), "media_interrupted_event")
            else:
                await self._sink_call("on_event", self._sink.on_event(message))
        elif isinstance(message, TranscriptData | AudioData):  # not expected here, but never dropped
            await self._deliver(message)
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
        if update.state == StreamState.TERMINATED:
            self._decide(_finish_stopped(update.reason))
        elif update.state == StreamState.TERMINATING:
            # Wait for TERMINATED (or the close that follows) but remember why, in case 4 never comes.
            self._terminating_reason = update.reason
        elif update.state == StreamState.PAUSED:
            await self._state(StreamStatus(StatusKind.PAUSED))
        elif update.state == StreamState.RESUMED:
            await self._state(StreamStatus(StatusKind.RESUMED))
        elif update.state == StreamState.INTERRUPTED:
            if update.reason in _MEDIA_LOST_REASONS:
                # §2.6 row 3: 14 is the reconnection sample's spelling of "media socket lost"; 16
                # (closed abnormally) is the same loss seen from the server.
                self._on_media_interrupted(None, "media_interrupted_state")
            else:
                await self._state(StreamStatus(StatusKind.INTERRUPTED, update.reason, "zoom_reported"))

    async def _on_session_state(self, update: SessionStateUpdate) -> None:
        logger.info(
            "rtms.media.session_state",
            extra={**self._target.ids, "state": int(update.state), "stop_reason": update.reason},
        )
        # STARTED/STOPPED are per session (one per user, §2.3 message 9); only the stream's own
        # TERMINATED ends our connection.
        if update.state == SessionState.PAUSED:
            await self._state(StreamStatus(StatusKind.PAUSED))
        elif update.state == SessionState.RESUMED:
            await self._state(StreamStatus(StatusKind.RESUMED))

    def _media_names(self) -> list[str]:
        return [spec.name for spec in self._specs(self._target)]

    def _named_media(self, update: EventUpdate) -> list[str] | None:
        # The body of event 7 is UNCONFIRMED (§2.3); if it ever names a media_type, that settles it.
        flags = update.event.get("media_type")
        if isinstance(flags, int) and not isinstance(flags, bool):
            return [s.name for s in self._specs(self._target) if s.flag & flags] or None
        return None

    def _on_media_interrupted(self, named: list[str] | None, why: str) -> None:
        """§2.6 row 3: reconnect that media socket only; signaling and the other media stay up.

        Neither event 7 nor state 2/14 says which socket (UNCONFIRMED), and Zoom may send both for one
        loss. So: a socket we see down, or saw go down a moment ago, is the one (its loop is on it); with
        a single media socket there is no doubt; otherwise give the lost socket a moment to show
        itself before restarting every media socket. A repeat right after a restart is the same loss.
        """
        names = named or self._media_names()
        now = self._monotonic()
        fresh = [
            n for n in names if now - self._media_restarted_at.get(n, -1e18) > self._config.media_grace_s
        ]
        if not fresh:
            return
        grace = self._config.media_grace_s
        lost = [
            n for n in fresh if n not in self._media_ws or now - self._media_lost_at.get(n, -1e18) <= grace
        ]
        if lost:
            self._media_requested.update(n for n in lost if n not in self._media_ws)
            return
        if named or len(fresh) == 1:
            self._restart_media(fresh, why)
        elif not self._media_grace_pending:
            self._media_grace_pending = True
            self._spawn(self._restart_after_grace(fresh, why, now), "media-grace")

    async def _restart_after_grace(self, names: list[str], why: str, signalled: float) -> None:
        try:
            await asyncio.sleep(self._config.media_grace_s)
            # A socket that went down meanwhile (even if already back) was the one; if none did, the
            # server sees a loss we cannot (half-open), and only restarting them all is sure to fix it.
            if not any(self._media_lost_at.get(n, -1e18) >= signalled for n in names):
                self._restart_media(names, why)
        finally:
            self._media_grace_pending = False

    def _restart_media(self, names: list[str], why: str) -> None:
        """Close these media sockets (1000); their loops reconnect them at once, without backoff."""
        for name in names:
            logger.info(
                "rtms.media.media_restart", extra={**self._target.ids, "socket_kind": name, "why": why}
            )
            self._media_restarted_at[name] = self._monotonic()
            self._media_requested.add(name)
            ws = self._media_ws.pop(name, None)
            if ws is not None:  # None: already down and being reconnected
                self._spawn(self._close_socket(ws), f"close-{name}")

    # ---- media -------------------------------------------------------------------------------------

    async def _media_loop(
        self, target: StreamTarget, spec: _MediaSpec, url: str, ws: ClientConnection
    ) -> None:
        """Read one media socket; when it is lost, reconnect it alone (§2.6 row 3).

        After a media-only reconnect no second CLIENT_READY_ACK is sent: §2.3 says to send it once both
        connections are established and the SDK sends it once per join; signaling never went away, the
        server already has our ack, and it has a status (41 INVALID_CLIENT_READY_ACK) for a bad one.
        """
        cfg = self._config
        name = spec.name
        while True:
            reason = await self._read_media(ws, name)
            self._media_ws.pop(name, None)
            self._media_lost_at[name] = self._monotonic()
            await self._discard(ws)
            immediate = name in self._media_requested or reason == "keepalive_timeout"
            self._media_requested.discard(name)
            logger.info("rtms.media.media_lost", extra={**target.ids, "socket_kind": name, "reason": reason})
            await self._state(StreamStatus(StatusKind.INTERRUPTED, detail=f"media_{name}_{reason}"))
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
                    self._decide(_Reconnect(f"media_{name}_lost"))
                    return
                try:
                    ws = await self._open_media(target, spec, url)
                except _Refused as exc:
                    if exc.status in _RETRYABLE_MEDIA_STATUS:
                        continue
                    self._decide(self._refusal(exc))
                    return
                except _Fatal as exc:
                    self._decide(_Finish(SessionOutcome(OutcomeKind.FAILED, error=exc.error)))
                    return
                except _TRANSIENT as exc:
                    logger.info(
                        "rtms.media.media_reconnect_failed",
                        extra={**target.ids, "socket_kind": name, "error": type(exc).__name__},
                    )
                    continue
                break
            self._media_ws[name] = ws
            self._media_requested.discard(name)  # a request that came while reconnecting meant the old one
            logger.info("rtms.media.media_reconnected", extra={**target.ids, "socket_kind": name})
            if self._ready:
                await self._state(StreamStatus(StatusKind.READY, detail=f"media_{name}"))

    async def _read_media(self, ws: ClientConnection, kind: str) -> str:
        """Deliver frames until the socket is lost; returns why."""
        while True:
            try:
                async with asyncio.timeout(self._config.keepalive_timeout_s):
                    raw = await ws.recv()
            except TimeoutError:
                return "keepalive_timeout"
            except ConnectionClosed as exc:
                return f"closed_{exc.rcvd.code if exc.rcvd is not None else None}"
            message = self._parse(raw, kind)
            if isinstance(message, KeepAliveReq):
                await self._answer(ws, message, kind)
            elif isinstance(message, TranscriptData | AudioData):
                await self._deliver(message)
            elif isinstance(message, EventUpdate):
                await self._sink_call("on_event", self._sink.on_event(message))
            elif message is not None:
                logger.debug(
                    "rtms.media.ignored",
                    extra={**self._target.ids, "socket_kind": kind, "message_kind": type(message).__name__},
                )

    async def _deliver(self, message: TranscriptData | AudioData) -> None:
        if isinstance(message, TranscriptData):
            await self._sink_call("on_transcript", self._sink.on_transcript(message))
        else:
            await self._sink_call("on_audio", self._sink.on_audio(message))

    # ---- small helpers -----------------------------------------------------------------------------

    def _parse(self, raw: str | bytes, kind: str) -> RtmsMessage | None:
        """A message, or None for a frame to skip: logged, never fatal. Binary frames carry JSON too."""
        try:
            return parse_rtms_message(json.loads(raw))
        except (ValueError, RecursionError) as exc:  # ProtocolError and JSON/Unicode errors included
            logger.warning(
                "rtms.media.bad_frame",
                extra={**self._target.ids, "socket_kind": kind, "error": type(exc).__name__},
            )
            return None

    async def _answer(self, ws: ClientConnection, request: KeepAliveReq, kind: str) -> None:
        # §2.3 messages 12/13: on the socket it came on, echoing sequence and timestamp.
        await self._send(ws, keep_alive_resp(request), kind, required=False)
        if self._config.on_keepalive is not None:
            self._config.on_keepalive(kind, max(0.0, time.time() - request.timestamp / 1000))

    async def _send(
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

    async def _discard(self, ws: ClientConnection) -> None:
        await self._close_socket(ws)
        self._sockets.discard(ws)  # only now: if closing was cancelled, teardown still closes it

    async def _close_socket(self, ws: ClientConnection) -> None:
        try:
            # close() has its own close_timeout; this is a backstop for a stuck transport.
            async with asyncio.timeout(self._config.connect_timeout_s + 1.0):
                await ws.close(code=CLOSE_NORMAL)
        except Exception as exc:
            logger.info("rtms.media.close_failed", extra={**self._target.ids, "error": type(exc).__name__})
            ws.transport.abort()

    async def _sink_call(self, name: str, call: Awaitable[None]) -> None:
        try:
            await call  # awaited: a slow sink slows this socket (backpressure), never reorders it
        except Exception as exc:
            # No traceback: the sink's exception may quote transcript text; the sink logs its own.
            logger.error(
                "rtms.media.sink_failed",
                extra={**self._target.ids, "call": name, "error": type(exc).__name__},
            )

    async def _state(self, status: StreamStatus) -> None:
        await self._sink_call("on_state", self._sink.on_state(status))

    @staticmethod
    def _final_status(outcome: SessionOutcome) -> StreamStatus:
        if outcome.kind in (OutcomeKind.STOPPED, OutcomeKind.RESTART_REQUESTED):
            return StreamStatus(StatusKind.STOPPED, outcome.stop_reason, outcome.kind.value)
        if outcome.kind is OutcomeKind.CLOSED:
            return StreamStatus(StatusKind.CLOSED)
        detail = outcome.error or outcome.kind.value
        if outcome.status_code is not None:
            detail = f"{outcome.kind.value}_{int(outcome.status_code)}"
        return StreamStatus(StatusKind.FAILED, detail=detail)


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
