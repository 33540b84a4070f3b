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
from dataclasses import asdict, dataclass

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
        data = asdict(self)
        data.pop("region_code")
        return data


def segment_next_seq(region_code: str, stream_id: int) -> int:
    alias = content_alias(region_code)
    top = TranscriptSegment.objects.using(alias).filter(stream_id=stream_id).aggregate(top=Max("seq"))["top"]
    return int(top or 0) + 1


def segments_write(segments: list[Segment]) -> int:
    """Store one batch (all of one region) in one transaction; returns how many rows were new."""
    if not segments:
        return 0
    region_code = segments[0].region_code
    if any(s.region_code != region_code for s in segments):
        raise ValueError("a batch holds segments of one region only")
    alias = content_alias(region_code)
    columns = (
        "region_code, meeting_id, stream_id, seq, speaker_id, speaker_name, text, "
        "start_ms, end_ms, language, created_at"
    )
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, clock_timestamp())"] * len(segments))
    params: list[str | int | None] = []
    for s in segments:
        params += [
            s.region_code,
            s.meeting_id,
            s.stream_id,
            s.seq,
            s.speaker_id,
            s.speaker_name[:200],
            s.text,
            s.start_ms,
            s.end_ms,
            s.language,
        ]
    sql = (
        f"INSERT INTO rtms_transcriptsegment ({columns}) VALUES {values} "
        "ON CONFLICT (stream_id, seq) DO NOTHING RETURNING id"
    )
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return len(cursor.fetchall())


def _write_batch(batch: list[Segment]) -> int:
    close_old_connections()
    return segments_write(batch)


Publisher = Callable[[list[Segment]], Awaitable[None]]


class SegmentBatcher:
    """Collects segments from many streams; flushes per region every ``interval_s`` or at ``max_rows``.

    Publishing to the live page happens only after the batch committed, so the page never shows a line
    the database does not have. A failed write is retried with the same rows (same seq numbers).
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
        self._wake = asyncio.Event()
        self._observe = observe

    def add(self, segment: Segment) -> None:
        self._pending.setdefault(segment.region_code, []).append(segment)
        if sum(len(v) for v in self._pending.values()) >= self._max_rows:
            self._wake.set()

    async def flush(self) -> None:
        batches, self._pending = self._pending, {}
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
                continue
            if self._observe is not None:
                self._observe(region_code, time.monotonic() - started)
            if self._publish is not None:
                try:
                    await self._publish(batch)
                except Exception as exc:  # the live page is best effort; the database has the rows
                    logger.warning(
                        "segments.publish_failed", extra={"region": region_code, "error": type(exc).__name__}
                    )

    async def run(self, stop: asyncio.Event) -> None:
        """Flush periodically until ``stop``; a final flush drains what is left."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
            self._wake.clear()
            await self.flush()
        await self.flush()
