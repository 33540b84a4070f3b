"""Transcript segments: numbered per stream, written in batches to the owning region's database.

``seq`` continues from what the region already stores, so a gateway that takes a stream over after a crash
carries on the same numbering; the (stream, seq) unique key means a batch retried after an ambiguous
failure is never stored twice.

Every write is fenced: a segment carries the stream lease token of the gateway that received it, and the
region database stores it only while that token is the newest registered for the stream
(``SegmentWriteFence``). A gateway registers its token when it claims a stream, in the same transaction
that reads where the numbering goes on, so a gateway paused past its lease (or cut off from the database
meanwhile) can never write into the numbering of the one that took over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connections, transaction
from django.db.models import Max

from regions.storage import content_alias
from rtms.models import TranscriptSegment

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Segment:
    region_code: str
    meeting_id: int
    stream_id: int
    seq: int
    speaker_id: int | None
    speaker_name: str
    text: str
    start_ms: int | None
    end_ms: int | None
    language: int | None
    lease_token: int = 0  # the stream lease this gateway held when it received the segment

    def as_message(self) -> dict[str, object]:
        """What the live page receives (ids and content; the region code stays server-side)."""
        # Spelled out: dataclasses.asdict deep-copies field by field, a twentieth of a busy gateway's CPU.
        return {
            "meeting_id": self.meeting_id,
            "stream_id": self.stream_id,
            "seq": self.seq,
            "speaker_id": self.speaker_id,
            "speaker_name": self.speaker_name,
            "text": self.text,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "language": self.language,
        }


def segment_next_seqs(region_code: str, stream_ids: list[int]) -> dict[int, int]:
    """The next ``seq`` of each stream, in one query (a gateway claims streams in batches)."""
    alias = content_alias(region_code)
    top = dict(
        TranscriptSegment.objects.using(alias)
        .filter(stream_id__in=stream_ids)
        .values_list("stream_id")
        .annotate(top=Max("seq"))
        .values_list("stream_id", "top")
    )
    return {stream_id: int(top.get(stream_id) or 0) + 1 for stream_id in stream_ids}


@dataclass(frozen=True)
class Writer:
    """A gateway about to write a stream's segments: the stream's meeting and the lease token it holds."""

    stream_id: int
    meeting_id: int
    token: int


_FENCE = """
INSERT INTO rtms_segmentwritefence (stream_id, region_code, meeting_id, token, fenced_at)
SELECT w.stream_id, %s, w.meeting_id, w.token, clock_timestamp()
  FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS w(stream_id, meeting_id, token)
ON CONFLICT (stream_id) DO UPDATE
   SET token = EXCLUDED.token, fenced_at = EXCLUDED.fenced_at
 WHERE rtms_segmentwritefence.token < EXCLUDED.token
RETURNING stream_id
"""


def segments_fence(region_code: str, writers: list[Writer]) -> dict[int, int]:
    """Register each writer's token as the only one allowed to write its stream, and return the next
    ``seq`` of each stream it now may write. A stream missing from the answer has a newer token
    registered already: this claim is stale and must not connect.

    One transaction: the fence row stays locked until the numbering is read, and a write holding an older
    token locks it too (``FOR SHARE`` in ``_INSERT``). So a late write either commits before the fence
    moves (and its rows count in the numbering read here) or is refused after it."""
    if not writers:
        return {}
    alias = content_alias(region_code)
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute(
            _FENCE,
            [
                region_code,
                [w.stream_id for w in writers],
                [w.meeting_id for w in writers],
                [w.token for w in writers],
            ],
        )
        fenced = [int(row[0]) for row in cursor.fetchall()]
        return segment_next_seqs(region_code, fenced) if fenced else {}


# One statement text whatever the batch size: the rows travel as one array per column. A VALUES list
# of N rows is a new text for every N, which psycopg then parses afresh, on every flush of a busy
# gateway (docs/benchmarks.md, "Figures behind the code").
# The rows whose token is still the stream's fence, with the fence rows locked (FOR SHARE) until commit:
# segments_fence waits for this write, or this write sees the newer token and keeps nothing of that stream.
_INSERT = """
WITH allowed AS (
    SELECT r.* FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::integer[], %s::bigint[], %s::text[],
                           %s::text[], %s::bigint[], %s::bigint[], %s::integer[], %s::bigint[])
             AS r(region_code, meeting_id, stream_id, seq, speaker_id, speaker_name, text, start_ms, end_ms,
                  language, token)
      JOIN rtms_segmentwritefence AS f ON f.stream_id = r.stream_id AND f.token = r.token
       FOR SHARE OF f
), stored AS (
    INSERT INTO rtms_transcriptsegment
        (region_code, meeting_id, stream_id, seq, speaker_id, speaker_name, text, start_ms, end_ms, language,
         created_at)
    SELECT region_code, meeting_id, stream_id, seq, speaker_id, speaker_name, text, start_ms, end_ms,
           language, clock_timestamp()
      FROM allowed
    ON CONFLICT (stream_id, seq) DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM stored), ARRAY(SELECT DISTINCT ARRAY[stream_id, token] FROM allowed)
"""


@dataclass(frozen=True)
class Written:
    new: int  # rows stored by this write (a retried batch counts only what was not stored before)
    fenced: frozenset[tuple[int, int]]  # (stream, token) whose rows were refused: a newer token writes now


def insert_parameters(segments: list[Segment]) -> list[list[str | int | None]]:
    """The parameters of ``_INSERT``: one array per column."""
    return [
        [s.region_code for s in segments],
        [s.meeting_id for s in segments],
        [s.stream_id for s in segments],
        [s.seq for s in segments],
        [s.speaker_id for s in segments],
        [s.speaker_name[:200] for s in segments],
        [s.text for s in segments],
        [s.start_ms for s in segments],
        [s.end_ms for s in segments],
        [s.language for s in segments],
        [s.lease_token for s in segments],
    ]


def segments_write(segments: list[Segment]) -> Written:
    """Store one batch (all of one region) in one transaction; rows of a stream whose fence holds a newer
    token than theirs are refused (named in the answer), never stored."""
    if not segments:
        return Written(0, frozenset())
    region_code = segments[0].region_code
    if any(s.region_code != region_code for s in segments):
        raise ValueError("a batch holds segments of one region only")
    alias = content_alias(region_code)
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute(_INSERT, insert_parameters(segments))
        new, allowed = cursor.fetchone()
    held = frozenset((s.stream_id, s.lease_token) for s in segments)
    return Written(int(new), held - frozenset((int(sid), int(token)) for sid, token in allowed or ()))


def _write_batch(batch: list[Segment]) -> Written:
    close_old_connections()
    return segments_write(batch)


Publisher = Callable[[list[Segment]], Awaitable[None]]


# Publishes waiting behind a slow or unreachable Redis; beyond this a batch is not published at all (the
# live page fills such a gap from the database with the next batch it receives).
PUBLISH_BACKLOG = 50
PUBLISH_TIMEOUT_S = 2.0


class SegmentBatcher:
    """Collects segments from many streams; flushes per region every ``interval_s`` or at ``max_rows``.

    Publishing to the live page happens only after the batch committed, so the page never shows a line
    the database does not have. It runs beside the next flush, never in front of it (commit latency is
    what must not suffer), one batch after the other so a page receives them in commit order. A failed
    write is retried with the same rows (same seq numbers), so a database outage costs nothing while the
    rows fit in ``max_buffered``; beyond it the oldest are discarded (``on_discarded``), memory being the
    one thing an outage must not exhaust. Rows the region refuses because a newer lease token fenced their
    stream are dropped and their streams reported (``on_fenced``).
    """

    def __init__(
        self,
        *,
        interval_s: float,
        max_rows: int,
        publish: Publisher | None = None,
        observe: Callable[[str, float], None] | None = None,
        max_buffered: int = 100_000,
        on_fenced: Callable[[frozenset[tuple[int, int]]], None] | None = None,
        on_discarded: Callable[[str, str, int], None] | None = None,
    ) -> None:
        self._interval = interval_s
        self._max_rows = max_rows
        self._max_buffered = max_buffered
        self._on_fenced = on_fenced
        self._on_discarded = on_discarded
        self._publish = publish
        self._pending: dict[str, list[Segment]] = {}
        self._pending_rows = 0
        self._wake = asyncio.Event()
        self._observe = observe
        self._last_publish: asyncio.Task[None] | None = None
        self._publishing = 0
        # One flush at a time: a flush asked for while another writes waits for it instead of overtaking it
        # with nothing pending, so its caller may rely on every row added before it being written.
        self._flush_lock = asyncio.Lock()

    def add(self, segment: Segment) -> None:
        self._pending.setdefault(segment.region_code, []).append(segment)
        self._pending_rows += 1
        if self._pending_rows >= self._max_rows:
            self._wake.set()

    async def flush(self) -> None:
        """Write what is pending. On return every segment added before the call is committed, or kept for
        the next flush if its write failed (a gateway flushes before it gives a stream's lease back)."""
        async with self._flush_lock:
            await self._flush_pending()

    async def _flush_pending(self) -> None:
        batches, self._pending, self._pending_rows = self._pending, {}, 0
        for region_code, batch in batches.items():
            started = time.monotonic()
            try:
                # Its own worker thread (and so its own connection): flushes must not queue behind, or hold
                # up, the claims and state changes that run on the shared database thread.
                written = await sync_to_async(_write_batch, thread_sensitive=False)(batch)
            except Exception as exc:  # keep the rows: the next flush retries them (unique seq = no doubles)
                logger.warning(
                    "segments.flush_failed",
                    extra={"region": region_code, "error": type(exc).__name__, "segments": len(batch)},
                )
                self._pending.setdefault(region_code, [])[:0] = batch
                self._pending_rows += len(batch)
                self._bound(region_code)
                continue
            if self._observe is not None:
                self._observe(region_code, time.monotonic() - started)
            if written.fenced:
                batch = self._fenced(region_code, batch, written.fenced)
            self._publish_after_commit(region_code, batch)

    def _bound(self, region_code: str) -> None:
        """Keep at most ``max_buffered`` rows waiting: the oldest go first (they are the ones a live page
        has long stopped waiting for, and the newest keep the stream's numbering going)."""
        excess = self._pending_rows - self._max_buffered
        if excess <= 0:
            return
        rows = self._pending[region_code]
        discarded = min(excess, len(rows))
        del rows[:discarded]
        self._pending_rows -= discarded
        logger.error("segments.buffer_full", extra={"region": region_code, "discarded": discarded})
        if self._on_discarded is not None:
            self._on_discarded(region_code, "buffer_full", discarded)

    def _fenced(
        self, region_code: str, batch: list[Segment], fenced: frozenset[tuple[int, int]]
    ) -> list[Segment]:
        def refused(s: Segment) -> bool:
            return (s.stream_id, s.lease_token) in fenced

        kept_batch = [s for s in batch if not refused(s)]
        discarded = len(batch) - len(kept_batch)
        # Rows received under a lease that has passed to another holder, who numbers the stream afresh:
        # dropped, with any more of them still waiting, and the streams reported (their sockets close).
        for code, rows in self._pending.items():
            kept = [s for s in rows if not refused(s)]
            discarded += len(rows) - len(kept)
            self._pending_rows -= len(rows) - len(kept)
            self._pending[code] = kept
        logger.warning(
            "segments.fenced",
            extra={
                "region": region_code,
                "stream_ids": sorted({sid for sid, _ in fenced}),
                "segments": discarded,
            },
        )
        if self._on_discarded is not None:
            self._on_discarded(region_code, "fenced", discarded)
        if self._on_fenced is not None:
            self._on_fenced(fenced)
        return kept_batch

    def _publish_after_commit(self, region_code: str, batch: list[Segment]) -> None:
        if self._publish is None:
            return
        if self._publishing >= PUBLISH_BACKLOG:
            logger.warning("segments.publish_dropped", extra={"region": region_code, "segments": len(batch)})
            return
        self._publishing += 1
        self._last_publish = asyncio.create_task(
            self._publish_in_turn(self._last_publish, region_code, batch), name="segment-publish"
        )

    async def _publish_in_turn(
        self, previous: asyncio.Task[None] | None, region_code: str, batch: list[Segment]
    ) -> None:
        assert self._publish is not None
        try:
            if previous is not None:
                await asyncio.wait([previous])  # its outcome is its own; only the order matters here
            await asyncio.wait_for(self._publish(batch), timeout=PUBLISH_TIMEOUT_S)
        except Exception as exc:  # the live page is best effort; the database has the rows
            logger.warning(
                "segments.publish_failed", extra={"region": region_code, "error": type(exc).__name__}
            )
        finally:
            self._publishing -= 1

    async def published(self) -> None:
        """Wait until every batch committed so far was handed to the live page (or given up on)."""
        if self._last_publish is not None:
            await asyncio.wait([self._last_publish])

    async def run(self, stop: asyncio.Event) -> None:
        """Flush every ``interval_s`` (measured from the start of the previous flush, so a slow write does
        not stretch the period) until ``stop``; a final flush drains what is left."""
        next_at = time.monotonic() + self._interval
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, next_at - time.monotonic()))
            self._wake.clear()
            next_at = time.monotonic() + self._interval
            await self.flush()
        await self.flush()
        await self.published()
