"""Deleting personal data where it lives: region databases, region media roots, inbox payloads.

Every function here is idempotent (deleting what is already gone deletes nothing) and works in bounded
batches, so erasure, retention and the revoked-stream purge can all be retried after a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from django.db import transaction
from django.db.models import F, QuerySet, Value
from django.db.models.functions import JSONObject

from regions.storage import content_alias
from rtms.gateway.audio import region_media_root
from rtms.inbox.redaction import REDACTED_KEY
from rtms.models import InboundEvent, MeetingDetails, RoutedPayload, SegmentWriteFence, TranscriptSegment

logger = logging.getLogger(__name__)

DELETE_BATCH: Final = 2000


def segment_queryset(region_code: str) -> QuerySet[TranscriptSegment]:
    return TranscriptSegment.objects.using(content_alias(region_code)).filter(region_code=region_code)


def content_delete(qs: QuerySet[Any], *, dry_run: bool = False) -> int:
    """Delete ``qs`` (region content, already bound to a region database) in batches, each its own short
    transaction, so a large purge never holds locks for long and a crash keeps what was done."""
    if dry_run:
        return qs.count()
    alias = qs.db
    deleted = 0
    while True:
        pks = list(qs.order_by("pk").values_list("pk", flat=True)[:DELETE_BATCH])
        if not pks:
            return deleted
        with transaction.atomic(using=alias):
            count, _ = qs.model.objects.using(alias).filter(pk__in=pks).delete()
        deleted += count


def segments_delete(qs: QuerySet[TranscriptSegment], *, dry_run: bool = False) -> int:
    return content_delete(qs, dry_run=dry_run)


def meeting_details_queryset(region_code: str) -> QuerySet[MeetingDetails]:
    """Topics and host e-mails, in the region's database (rtms/personal.py)."""
    return MeetingDetails.objects.using(content_alias(region_code)).filter(region_code=region_code)


def segment_fence_queryset(region_code: str) -> QuerySet[SegmentWriteFence]:
    """Which lease token may write each stream's segments (rtms/gateway/segments.py): ids only, but erased
    with the meeting all the same; without its row a stream takes no more segments."""
    return SegmentWriteFence.objects.using(content_alias(region_code)).filter(region_code=region_code)


def routed_payload_queryset(region_code: str) -> QuerySet[RoutedPayload]:
    """Bodies of routed events, in the region's database (rtms/inbox/payloads.py)."""
    return RoutedPayload.objects.using(content_alias(region_code)).filter(region_code=region_code)


@dataclass(frozen=True)
class FilesDeleted:
    files: int = 0
    bytes: int = 0


def _audio_dir(region_code: str) -> Path:
    return region_media_root(region_code) / "audio"


def _wav_files(
    region_code: str, meeting_id: int | None = None, stream_id: int | None = None
) -> Iterator[Path]:
    root = _audio_dir(region_code)
    if meeting_id is not None:
        root = root / str(meeting_id)
    if not root.is_dir():
        return iter(())
    pattern = f"{stream_id}-*.wav" if stream_id is not None else "*.wav"
    return root.rglob(pattern) if meeting_id is None else root.glob(pattern)


def audio_delete(
    region_code: str,
    *,
    meeting_id: int | None = None,
    stream_id: int | None = None,
    modified_before: datetime | None = None,
    dry_run: bool = False,
) -> FilesDeleted:
    """Delete WAV parts of a region (optionally of one meeting, one stream, or older than a time)."""
    files = size = 0
    for path in list(_wav_files(region_code, meeting_id, stream_id)):
        try:
            stat = path.stat()
        except FileNotFoundError:  # another sweep got there first
            continue
        if modified_before is not None and stat.st_mtime >= modified_before.timestamp():
            continue
        if not dry_run:
            path.unlink(missing_ok=True)
            _remove_if_empty(path.parent, stop_at=_audio_dir(region_code))
        files += 1
        size += stat.st_size
    return FilesDeleted(files=files, bytes=size)


def _remove_if_empty(directory: Path, *, stop_at: Path) -> None:
    # A meeting directory left empty still says "this meeting had audio"; remove it, never the root.
    if directory != stop_at and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()


def payloads_scrub(qs: QuerySet[InboundEvent], *, why: str, dry_run: bool = False) -> int:
    """Replace raw Zoom bodies by a stub that keeps only the event type and time (no personal data); the
    same stub as rtms/inbox/redaction.py's ``payload_stub``."""
    todo = qs.exclude(payload__has_key=REDACTED_KEY)
    if dry_run:
        return todo.count()
    stub = JSONObject(event=F("event_type"), event_ts=F("event_ts"), **{REDACTED_KEY: Value(why)})
    return todo.update(payload=stub)
