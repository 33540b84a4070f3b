"""The regional gateway: holds many RTMS streams in one asyncio loop.

Per cycle it renews the leases it holds (any lease it cannot renew is dropped at once, sockets first:
fencing), looks at the rows of the streams it holds (a failover bumped the generation, a webhook said
interrupted or stopped) and claims wanted streams up to its capacity. It is woken by NOTIFY when a stream
becomes wanted and polls as a fallback. ORM work runs off the loop in batches, never per media message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import DatabaseError
from django.db.models.expressions import RawSQL

from regions.models import Region
from rtms import hooks
from rtms.accounts import rtms_app_credentials
from rtms.asyncdb import db
from rtms.gateway import metrics
from rtms.gateway.audio import WavPart, audio_part_path
from rtms.gateway.claims import (
    Claim,
    stream_claim,
    stream_duplicate_refused,
    stream_holders,
    stream_leases_lapse,
    stream_release,
    stream_renew,
)
from rtms.gateway.moves import Move, MoveWriter
from rtms.gateway.segments import Segment, SegmentBatcher, Writer, segments_fence
from rtms.inbox.apply import ZOOM_INTERRUPTED_CAUSE
from rtms.lifecycle import STREAM_TERMINAL, StreamState
from rtms.liveness import holder_dead
from rtms.models import Meeting, RtmsStream, StreamTransition
from rtms.zoom.credentials import RtmsAppCredentials
from rtms.zoom.media import MediaClientConfig, WebSocketTransport
from rtms.zoom.protocol import AudioData, EventUpdate, MediaType, TranscriptData
from rtms.zoom.server_urls import server_urls_refusal
from rtms.zoom.transport import (
    OutcomeKind,
    RtmsConnection,
    SessionOutcome,
    StatusKind,
    StreamStatus,
    StreamTarget,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatewayConfig:
    region_code: str
    owner: str
    lease_ttl: timedelta
    renew_every_s: float
    poll_every_s: float
    capacity: int
    flush_interval_s: float
    flush_max_rows: int
    media: MediaClientConfig
    ca_file: str | None = None
    # Zoom refusing our connection as a duplicate for longer than this fails the stream (Zoom waits 60 s
    # for a lost signaling connection, so by then a holder of ours would have been dropped).
    duplicate_window: timedelta = timedelta(seconds=90)
    # The hosts server_urls may name and whether ws:// is allowed (settings RTMS_SERVER_HOSTS and
    # RTMS_ALLOW_PLAIN_WS; rtms/zoom/server_urls.py).
    server_hosts: tuple[str, ...] = ("*.zoom.us",)
    allow_plain_ws: bool = False
    # Segments kept in memory while the region database cannot be written (GATEWAY_BUFFER_MAX_SEGMENTS).
    buffer_max_segments: int = 100_000

    @property
    def lease_valid_s(self) -> float:
        """How long after the start of the call that claimed or last renewed a stream's lease this gateway
        still acts on it. The database set the expiry later than that start, at a full TTL; the fifth
        kept back covers closing the sockets and a busy event loop, so they are closed before another
        gateway can claim the stream."""
        return self.lease_ttl.total_seconds() * 0.8


# Which lifecycle moves a status from the media client asks for, tried in order (the lifecycle table
# decides; a move that is no longer legal is skipped).
_MOVES: dict[StatusKind, tuple[StreamState, ...]] = {
    StatusKind.CONNECTING: (StreamState.CONNECTING,),
    StatusKind.READY: (StreamState.CONNECTING, StreamState.CONNECTED),
    StatusKind.RESUMED: (StreamState.CONNECTED,),
    StatusKind.INTERRUPTED: (StreamState.INTERRUPTED,),
    StatusKind.PAUSED: (StreamState.PAUSED,),
}


class StreamSink:
    """The media client's callbacks for one stream: segments to the batcher, states to the database."""

    def __init__(self, held: HeldStream, batcher: SegmentBatcher, moves: MoveWriter, next_seq: int) -> None:
        self.held = held
        self.batcher = batcher
        self.moves = moves
        self.next_seq = next_seq
        self.last_status: StatusKind | None = None
        self.ready_ms: int | None = None  # wall-clock ms of the last READY, comparable with Zoom's event_ts

    async def on_transcript(self, data: TranscriptData) -> None:
        claim = self.held.claim
        self.batcher.add(
            Segment(
                region_code=self.held.region_code,
                meeting_id=claim.meeting_id,
                stream_id=claim.stream_id,
                seq=self.next_seq,
                speaker_id=data.user_id,
                speaker_name=data.user_name or "",
                text=data.text,
                start_ms=data.start_time,
                end_ms=data.end_time,
                language=None if data.language is None else int(data.language),
                lease_token=claim.lease_token,
            )
        )
        self.next_seq += 1
        metrics.SEGMENTS.labels(self.held.region_code).inc()

    async def on_audio(self, data: AudioData) -> None:
        if self.held.audio is not None:
            self.held.audio.write(data.data)

    async def on_state(self, status: StreamStatus) -> None:
        region = self.held.region_code
        if self.last_status is not None:
            metrics.STREAMS.labels(region, self.last_status.value).dec()
        metrics.STREAMS.labels(region, status.kind.value).inc()
        if status.kind is StatusKind.INTERRUPTED:
            metrics.RECONNECTS.labels(region, status.detail or "unknown").inc()
        self.last_status = status.kind
        ready = status.kind is StatusKind.READY
        if ready:
            self.ready_ms = int(time.time() * 1000)
        targets = _MOVES.get(status.kind)
        if targets:
            # Queued, not awaited: the media client goes on connecting while the writer stores the move.
            self.moves.submit(
                Move(
                    self.held.claim.stream_id,
                    targets,
                    cause=f"gateway.{status.kind.value}",
                    ready=ready,
                    lease_token=self.held.claim.lease_token,
                )
            )

    async def on_event(self, event: EventUpdate) -> None:
        return None


@dataclass
class HeldStream:
    claim: Claim
    region_code: str
    meeting_uuid: str
    generation: int
    audio: WavPart | None = None
    connection: RtmsConnection | None = None
    task: asyncio.Task[None] | None = None
    sink: StreamSink | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    valid_until: float = 0.0  # monotonic: unless renewed by then, drop it (GatewayConfig.lease_valid_s)


@dataclass(frozen=True)
class StreamRow:
    state: str
    generation: int
    server_urls: tuple[str, ...]
    interrupted_event_ts: int | None  # Zoom's event_ts of the rtms_interrupted that set the state


def _stream_rows(ids: list[int]) -> dict[int, StreamRow]:
    # The ids as one array parameter: ``pk__in`` with a thousand ids cost more in Django's per-value
    # preparation than in PostgreSQL (bench/gateway.py, py-spy).
    held = RawSQL("SELECT unnest(%s::bigint[])", [ids])  # noqa: S611 - a constant text; ids are a parameter
    rows = list(
        RtmsStream.objects.filter(pk__in=held).values_list("pk", "state", "server_generation", "server_urls")
    )
    interrupted = [pk for pk, state, _, _ in rows if state == StreamState.INTERRUPTED]
    event_ts: dict[int, int] = {}
    if interrupted:
        for stream_id, detail in (
            StreamTransition.objects.filter(stream_id__in=interrupted, cause=ZOOM_INTERRUPTED_CAUSE)
            .order_by("stream_id", "-at", "-id")
            .distinct("stream_id")
            .values_list("stream_id", "detail")
        ):
            if isinstance(detail, dict) and isinstance(detail.get("event_ts"), int):
                event_ts[stream_id] = detail["event_ts"]
    return {pk: StreamRow(state, gen, tuple(urls or ()), event_ts.get(pk)) for pk, state, gen, urls in rows}


@dataclass(frozen=True)
class Prepared:
    meeting_uuid: str
    credentials: RtmsAppCredentials
    next_seq: int
    audio: bool


def _prepare_all(claims: list[Claim], region_code: str) -> dict[int, Prepared | Exception]:
    """What connecting each claimed stream needs, for a whole claim batch in a few queries (claims come
    in batches of up to the gateway's free capacity). A stream whose rows are not usable gets the error."""
    meetings = Meeting.objects.select_related("account", "region").in_bulk([c.meeting_id for c in claims])
    # Fenced before anything connects: from here on, only this claim's token may write these streams.
    writers = [Writer(c.stream_id, c.meeting_id, c.lease_token) for c in claims]
    next_seqs = segments_fence(region_code, writers)
    prepared: dict[int, Prepared | Exception] = {}
    for claim in claims:
        try:
            meeting = meetings.get(claim.meeting_id)
            if meeting is None:
                raise LookupError("stream's meeting is gone")
            if meeting.account is None:
                raise LookupError("stream's meeting has no Zoom account")
            if claim.stream_id not in next_seqs:
                raise LookupError("a newer lease token fenced the stream: this claim is stale")
            prepared[claim.stream_id] = Prepared(
                meeting_uuid=meeting.zoom_uuid,
                credentials=rtms_app_credentials(meeting.account),
                next_seq=next_seqs[claim.stream_id],
                audio=meeting.account.capture_audio or bool(meeting.region and meeting.region.capture_audio),
            )
        except Exception as exc:  # a misconfigured account must not keep the other streams waiting
            prepared[claim.stream_id] = exc
    return prepared


# A ramp wakes the loop once per new stream (NOTIFY); reading every held stream's row on each of those
# wakes cost a busy gateway dearly (docs/benchmarks.md, "Figures behind the code"). Failovers, which also
# NOTIFY, wait at most this long to be seen; interruptions and stops are seen at the next poll anyway.
_WATCH_AT_MOST_EVERY_S = 0.5
_RENEW_RETRY_S = 0.2


class Gateway:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.held: dict[int, HeldStream] = {}
        self.wake = asyncio.Event()
        self.batcher = SegmentBatcher(
            interval_s=config.flush_interval_s,
            max_rows=config.flush_max_rows,
            publish=hooks.publish_segments,
            observe=lambda region, seconds: metrics.FLUSH_SECONDS.labels(region).observe(seconds),
            max_buffered=config.buffer_max_segments,
            on_fenced=self._on_fenced,
            on_discarded=lambda region, why, n: metrics.SEGMENTS_DISCARDED.labels(region, why).inc(n),
        )
        self._background: set[asyncio.Task[None]] = set()
        self.moves = MoveWriter()
        self._transports: dict[str, WebSocketTransport] = {}
        self._ssl: ssl.SSLContext | None = (
            ssl.create_default_context(cafile=config.ca_file) if config.ca_file else None
        )
        self._region_id: int | None = None

    def _transport(self, credentials: RtmsAppCredentials) -> WebSocketTransport:
        if credentials.client_id not in self._transports:
            self._transports[credentials.client_id] = WebSocketTransport(credentials, self.config.media)
        return self._transports[credentials.client_id]

    async def run(self, stop: asyncio.Event) -> None:
        region = await db(Region.objects.get)(code=self.config.region_code)
        self._region_id = region.pk
        batch_stop = asyncio.Event()
        batch_task = asyncio.create_task(self.batcher.run(batch_stop), name="segment-batcher")
        moves_stop = asyncio.Event()
        moves_task = asyncio.create_task(self.moves.run(moves_stop), name="stream-moves")
        # Fencing runs beside the loop below, not in it: that loop waits on the database, which during an
        # outage may not answer for seconds, and the sockets must close in time all the same.
        expiry_task = asyncio.create_task(self._expire_unrenewed(stop), name="lease-expiry")
        last_watch = time.monotonic() - _WATCH_AT_MOST_EVERY_S
        renew_at = time.monotonic() + self.config.renew_every_s
        await self._lapse_dead_holders()  # a restarted gateway takes its dead predecessor's streams at once
        try:
            while not stop.is_set():
                now = time.monotonic()
                if now >= renew_at:
                    # A failed renewal is tried again soon, not a period later: an outage that ends before
                    # the leases' deadline then costs nothing (the sockets stay, the segments wait).
                    renewed = await self._renew()
                    renew_at = now + (self.config.renew_every_s if renewed else _RENEW_RETRY_S)
                    if renewed:
                        await self._lapse_dead_holders()
                # Clear before looking, not after: a NOTIFY arriving while we claim must wake the next round.
                self.wake.clear()
                if time.monotonic() - last_watch >= _WATCH_AT_MOST_EVERY_S:
                    last_watch = time.monotonic()
                    await self._watch()
                await self._claim()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        _first(stop, self.wake),
                        timeout=max(0.0, min(renew_at - time.monotonic(), self.config.poll_every_s)),
                    )
        finally:
            expiry_task.cancel()
            await asyncio.gather(expiry_task, *self._background, return_exceptions=True)
            await self._drop_all("shutdown", release=True)
            batch_stop.set()
            moves_stop.set()
            await batch_task
            await moves_task

    async def _renew(self) -> bool:
        if not self.held:
            return True
        tokens = {sid: h.claim.lease_token for sid, h in self.held.items()}
        started = time.monotonic()
        try:
            renewed = await db(stream_renew)(owner=self.config.owner, held=tokens, ttl=self.config.lease_ttl)
        except DatabaseError as exc:
            # Nothing else to do: the streams stay connected, their segments buffered, until their leases'
            # local deadline (_expire_unrenewed) unless a later renewal gets through.
            logger.warning("gateway.renew_failed", extra={"error": type(exc).__name__})
            return False
        valid_until = started + self.config.lease_valid_s
        for sid in renewed:
            held = self.held.get(sid)
            if held is not None and held.claim.lease_token == tokens[sid]:
                held.valid_until = valid_until
        for sid in set(tokens) - renewed:
            logger.warning("gateway.lease_lost", extra={"stream_id": sid})
            await self._drop(sid, "lease_lost", release=False)
        return True

    async def _watch(self) -> None:
        if not self.held:
            return
        try:
            rows = await db(_stream_rows)(list(self.held))
        except DatabaseError:
            return
        for sid, row in rows.items():
            held = self.held.get(sid)
            if held is None or held.connection is None:
                continue
            if row.state in STREAM_TERMINAL:
                await self._drop(sid, "stream_ended", release=True)
            elif row.generation > held.generation:
                held.generation = row.generation
                try:
                    target = self._target(held, row.server_urls, row.generation)
                except ValueError as exc:
                    logger.error("gateway.bad_target", extra={"stream_id": sid, "error": str(exc)})
                    await self.moves.submit(
                        Move(
                            sid,
                            (StreamState.FAILED,),
                            cause="gateway.bad_server_urls",
                            lease_token=held.claim.lease_token,
                        )
                    )
                    continue
                held.connection.failover(target)
            elif (
                row.state == StreamState.INTERRUPTED
                and held.sink
                and held.sink.last_status == StatusKind.READY
            ):
                if row.interrupted_event_ts is None:
                    # No rtms_interrupted from Zoom: the interruption is this gateway's own (its session
                    # lost a socket, or it took the stream over), read before the moves of its recovery
                    # landed. Those moves put the row right; interrupting would drop what it just restored.
                    continue
                if _interruption_predates(row.interrupted_event_ts, held.sink.ready_ms):
                    # A late rtms_interrupted: we reconnected on our own since. Interrupting a healthy
                    # session would close our socket, Zoom would report that as a new interruption,
                    # and the two would chase each other. Put the state right instead.
                    self.moves.submit(
                        Move(
                            sid,
                            (StreamState.CONNECTING, StreamState.CONNECTED),
                            cause="gateway.already_reconnected",
                            lease_token=held.claim.lease_token,
                        )
                    )
                else:
                    held.connection.interrupt()

    def _target(self, held: HeldStream, urls: tuple[str, ...], generation: int) -> StreamTarget:
        # Applying the event checked these already; checked again here in case this process's settings
        # are narrower (rtms/zoom/server_urls.py).
        config = self.config
        refusal = server_urls_refusal(urls, config.server_hosts, allow_plain_ws=config.allow_plain_ws)
        if refusal is not None:
            raise ValueError(refusal)
        media = MediaType.TRANSCRIPT | (MediaType.AUDIO if held.audio is not None else MediaType.TRANSCRIPT)
        return StreamTarget(
            meeting_uuid=held.meeting_uuid,
            rtms_stream_id=held.claim.rtms_stream_id,
            server_urls=urls,
            generation=generation,
            media=media,
            ssl_context=self._ssl,
        )

    async def _expire_unrenewed(self, stop: asyncio.Event) -> None:
        """Drop, sockets first, every stream whose lease this gateway could not renew in time: past its
        deadline another gateway may claim it, and Zoom would then see two clients for one stream."""
        while not stop.is_set():
            now = time.monotonic()
            expired = [sid for sid, held in self.held.items() if held.valid_until <= now]
            if expired:
                logger.warning("gateway.leases_expired", extra={"streams": len(expired)})
                metrics.LEASES_EXPIRED.labels(self.config.region_code).inc(len(expired))
                await self._drop_many(expired, "lease_expired")
                continue
            nearest = min((held.valid_until for held in self.held.values()), default=now + 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(max(nearest - now, 0.01), 1.0))

    def _on_fenced(self, fenced: frozenset[tuple[int, int]]) -> None:
        """The region refused segments of these (stream, token): another gateway holds the stream now."""
        stale = [sid for sid, token in fenced if (h := self.held.get(sid)) and h.claim.lease_token == token]
        if stale:
            task = asyncio.create_task(self._drop_many(stale, "fenced"), name="drop-fenced")
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _lapse_dead_holders(self) -> None:
        """End the leases of gateways on this machine whose process is gone (rtms/liveness.py), so
        their streams are claimed now, not a lease TTL after the crash."""
        if self._region_id is None:
            return
        try:
            owners = await db(stream_holders)(
                region_id=self._region_id, host=socket.gethostname(), exclude=self.config.owner
            )
            dead = [owner for owner in owners if holder_dead(owner)]
            if not dead:
                return
            lapsed = await db(stream_leases_lapse)(region_id=self._region_id, owners=dead)
        except DatabaseError as exc:  # the TTL frees them all the same
            logger.warning("gateway.dead_holders_check_failed", extra={"error": type(exc).__name__})
            return
        logger.info("gateway.dead_holders_lapsed", extra={"owners": dead, "streams": lapsed})

    async def _claim(self) -> None:
        room = self.config.capacity - len(self.held)
        if room <= 0 or self._region_id is None:
            return
        started = time.monotonic()
        try:
            claims = await db(stream_claim)(
                region_id=self._region_id, owner=self.config.owner, ttl=self.config.lease_ttl, limit=room
            )
        except DatabaseError as exc:
            logger.warning("gateway.claim_failed", extra={"error": type(exc).__name__})
            return
        if not claims:
            return
        try:
            prepared = await db(_prepare_all)(claims, self.config.region_code)
        except Exception as exc:  # the database, or a region alias that is not configured: none can start
            prepared = {claim.stream_id: exc for claim in claims}
        valid_until = started + self.config.lease_valid_s
        for claim in claims:
            await self._start(claim, prepared[claim.stream_id], valid_until=valid_until)

    async def _start(self, claim: Claim, prepared: Prepared | Exception, *, valid_until: float) -> None:
        region_code = self.config.region_code
        if isinstance(prepared, Exception):  # misconfigured account or vanished rows: give the lease back
            logger.error(
                "gateway.prepare_failed",
                extra={"stream_id": claim.stream_id, "error": type(prepared).__name__},
            )
            with contextlib.suppress(DatabaseError):  # else the lease lapses on its own
                await db(stream_release)(
                    owner=self.config.owner, stream_id=claim.stream_id, token=claim.lease_token
                )
            return
        held = HeldStream(
            claim=claim,
            region_code=region_code,
            meeting_uuid=prepared.meeting_uuid,
            generation=claim.server_generation,
            valid_until=valid_until,
            audio=(
                WavPart(audio_part_path(region_code, claim.meeting_id, claim.stream_id, claim.lease_token))
                if prepared.audio
                else None
            ),
        )
        try:
            target = self._target(held, claim.server_urls, claim.server_generation)
        except ValueError as exc:
            logger.error("gateway.bad_target", extra={"stream_id": claim.stream_id, "error": str(exc)})
            await self.moves.submit(
                Move(
                    claim.stream_id,
                    (StreamState.FAILED,),
                    cause="gateway.bad_server_urls",
                    lease_token=claim.lease_token,
                )
            )
            return
        held.sink = StreamSink(held, self.batcher, self.moves, prepared.next_seq)
        held.connection = self._transport(prepared.credentials).open(target, held.sink)
        if claim.state in (StreamState.CONNECTED, StreamState.PAUSED):
            # Taking over from a gateway that died: the stream was connected, now it is not.
            self.moves.submit(
                Move(
                    claim.stream_id,
                    (StreamState.INTERRUPTED,),
                    cause="gateway.takeover",
                    lease_token=claim.lease_token,
                )
            )
        self.held[claim.stream_id] = held
        held.task = asyncio.create_task(self._hold(held), name=f"stream-{claim.stream_id}")
        logger.info(
            "gateway.stream_claimed", extra={"stream_id": claim.stream_id, "token": claim.lease_token}
        )

    async def _hold(self, held: HeldStream) -> None:
        assert held.connection is not None
        try:
            outcome = await held.connection.run(held.stop)
        except Exception as exc:  # a bug in the client must not take the gateway down
            logger.exception("gateway.stream_crashed", extra={"stream_id": held.claim.stream_id})
            outcome = SessionOutcome(kind=OutcomeKind.FAILED, error=type(exc).__name__)
        try:
            await self._finish(held, outcome)
        except Exception:
            # Never leave a finished stream among the held: its lease would be renewed for ever, with no
            # connection behind it. Without the lease renewal, the stream goes back to be claimed again.
            logger.exception("gateway.finish_failed", extra={"stream_id": held.claim.stream_id})
            if self.held.get(held.claim.stream_id) is held:
                del self.held[held.claim.stream_id]

    async def _finish(self, held: HeldStream, outcome: SessionOutcome) -> None:
        sid, token = held.claim.stream_id, held.claim.lease_token
        reason = None if outcome.stop_reason is None else int(outcome.stop_reason)
        metrics.OUTCOMES.labels(held.region_code, outcome.kind.value).inc()
        _forget(held)
        logger.info(
            "gateway.stream_finished",
            extra={"stream_id": sid, "outcome": outcome.kind.value, "stop_reason": reason},
        )
        if outcome.kind in (OutcomeKind.STOPPED, OutcomeKind.RESTART_REQUESTED):
            await self.moves.submit(
                Move(
                    sid,
                    (StreamState.STOPPED,),
                    cause=f"gateway.{outcome.kind.value}",
                    stop_reason=reason,
                    lease_token=token,
                )
            )
            if outcome.kind is OutcomeKind.RESTART_REQUESTED:
                await hooks.ask_reconcile_from_loop(zoom_account_id="", reason="rtms-restart-requested")
        elif outcome.kind in (OutcomeKind.REFUSED, OutcomeKind.FAILED):
            try:
                await db(RtmsStream.objects.filter(pk=sid, lease_token=token).update)(
                    last_error=(outcome.error or outcome.kind.value)[:255]
                )
            except DatabaseError as exc:  # only the explanation is lost; the move below still fails it
                logger.warning(
                    "gateway.last_error_not_saved", extra={"stream_id": sid, "error": type(exc).__name__}
                )
            await self.moves.submit(
                Move(sid, (StreamState.FAILED,), cause=f"gateway.{outcome.kind.value}", lease_token=token)
            )
        elif outcome.kind is OutcomeKind.DUPLICATE:
            # Someone else is connected: never fight. Keep the lease until it lapses, so nobody retries
            # sooner than a TTL (a dying connection of ours may still hold Zoom's slot). Once the refusals
            # outlast Zoom's signaling window, the holder is not ours: give the stream up as failed, for
            # the operators and the reconciler to see.
            try:
                give_up = await db(stream_duplicate_refused)(sid, window=self.config.duplicate_window)
            except DatabaseError as exc:  # undecided: the lease lapses and the next claim asks again
                logger.warning(
                    "gateway.duplicate_not_recorded", extra={"stream_id": sid, "error": type(exc).__name__}
                )
                give_up = False
            if give_up:
                await self.moves.submit(
                    Move(sid, (StreamState.FAILED,), cause="gateway.duplicate", lease_token=token)
                )
            else:
                self.held.pop(sid, None)
                return
        if outcome.kind is not OutcomeKind.CLOSED:
            self.held.pop(sid, None)
            # The stream's last lines are written before its lease goes: whoever waits for the lease (an
            # erasure, compliance/erasure.py) then finds them, instead of a late write after it.
            await self.batcher.flush()
            with contextlib.suppress(DatabaseError):
                await db(stream_release)(owner=self.config.owner, stream_id=sid, token=held.claim.lease_token)

    async def _drop_many(self, sids: list[int], why: str) -> None:
        """Drop several streams at once, keeping their leases (to lapse): their sockets close together,
        not one after the other, since all of them must be closed before their leases can pass."""
        await asyncio.gather(*(self._drop(sid, why, release=False) for sid in sids))

    async def _drop(self, sid: int, why: str, *, release: bool) -> None:
        held = self.held.pop(sid, None)
        if held is None:
            return
        held.stop.set()
        if held.connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(held.connection.close(), timeout=10)
        if held.task is not None:
            held.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await held.task
        _forget(held)
        logger.info("gateway.stream_dropped", extra={"stream_id": sid, "why": why})
        if release:
            await self.batcher.flush()  # its last lines before its lease, as in _finish
            with contextlib.suppress(DatabaseError):
                await db(stream_release)(owner=self.config.owner, stream_id=sid, token=held.claim.lease_token)

    async def _drop_all(self, why: str, *, release: bool = False) -> None:
        for sid in list(self.held):
            await self._drop(sid, why, release=release)
        await self.batcher.flush()


def _forget(held: HeldStream) -> None:
    """Local bookkeeping when a stream leaves this gateway: finish its audio part, fix the gauge."""
    if held.audio is not None:
        held.audio.close()
    if held.sink is not None and held.sink.last_status is not None:
        metrics.STREAMS.labels(held.region_code, held.sink.last_status.value).dec()
        held.sink.last_status = None


# Zoom's event_ts and our clock are different clocks; an interruption stamped up to this long after our
# last READY is still taken to be the one we already recovered from.
_CLOCK_TOLERANCE_MS = 2000


def _interruption_predates(event_ts: int | None, ready_ms: int | None) -> bool:
    return event_ts is not None and ready_ms is not None and event_ts <= ready_ms + _CLOCK_TOLERANCE_MS


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
