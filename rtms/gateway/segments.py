"""Transcript segments: numbered per stream, written in batches to the owning region's database.

``seq`` continues from what the region already stores, so a gateway that takes a stream over after a crash
carries on the same numbering; the (stream, seq) unique key means a batch retried after an ambiguous
failure is never stored twice.
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


# One statement text whatever the batch size: the rows travel as one array per column. A VALUES list
# of N rows is a new text for every N, which psycopg then parses afresh, on every flush of a busy
# gateway (docs/benchmarks.md, "Figures behind the code").
_INSERT = """
INSERT INTO rtms_transcriptsegment
    (region_code, meeting_id, stream_id, seq, speaker_id, speaker_name, text, start_ms, end_ms, language,
     created_at)
SELECT r.region_code, r.meeting_id, r.stream_id, r.seq, r.speaker_id, r.speaker_name, r.text, r.start_ms,
       r.end_ms, r.language, clock_timestamp()
  FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::integer[], %s::bigint[], %s::text[], %s::text[],
              %s::bigint[], %s::bigint[], %s::integer[])
       AS r(region_code, meeting_id, stream_id, seq, speaker_id, speaker_name, text, start_ms, end_ms,
            language)
ON CONFLICT (stream_id, seq) DO NOTHING
RETURNING id
"""


def segments_write(segments: list[Segment]) -> int:
    """Store one batch (all of one region) in one transaction; returns how many rows were new."""
    if not segments:
        return 0
    region_code = segments[0].region_code
    if any(s.region_code != region_code for s in segments):
        raise ValueError("a batch holds segments of one region only")
    alias = content_alias(region_code)
    columns: list[list[str | int | None]] = [
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
    ]
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute(_INSERT, columns)
        return len(cursor.fetchall())


def _write_batch(batch: list[Segment]) -> int:
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
    write is retried with the same rows (same seq numbers).
    """

    def __init__(
        self,
        *,
        interval_s: float,
        max_rows: int,
        publish: Publisher | None = None,
        observe: Callable[[str, float], None] | None = None,
    ) -> None:
        self._interval = interval_s
        self._max_rows = max_rows
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
                await sync_to_async(_write_batch, thread_sensitive=False)(batch)
            except Exception as exc:  # keep the rows: the next flush retries them (unique seq = no doubles)
                logger.warning(
                    "segments.flush_failed", extra={"region": region_code, "error": type(exc).__name__}
                )
                self._pending.setdefault(region_code, [])[:0] = batch
                self._pending_rows += len(batch)
                continue
            if self._observe is not None:
                self._observe(region_code, time.monotonic() - started)
            self._publish_after_commit(region_code, batch)

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
