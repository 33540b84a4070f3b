"""Reads shaped for callers. Content is read from the owning region's database."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Q, QuerySet

from regions.access import RegionScope
from regions.storage import content_alias
from rtms.models import Meeting, RtmsStream, TranscriptSegment, ZoomAccount
from rtms.quarantine import quarantined_meetings


def meeting_list_with_streams() -> QuerySet[Meeting]:
    return Meeting.objects.select_related("region", "account").prefetch_related("streams").order_by("id")


def meeting_get_by_uuid(zoom_uuid: str) -> Meeting:
    return Meeting.objects.select_related("region").get(zoom_uuid=zoom_uuid)


def meeting_erased(*, pk: int | None = None, zoom_uuid: str | None = None) -> bool:
    """Whether the meeting (by id or by Zoom uuid) was erased: its tombstone (compliance app) exists."""
    meetings = Meeting.objects.filter(erasure__isnull=False)
    found = meetings.filter(pk=pk) if pk is not None else meetings.filter(zoom_uuid=zoom_uuid)
    return found.exists()


def segment_counts(streams: Iterable[RtmsStream]) -> dict[int, int]:
    """Segment count per stream id, one query per region database involved."""
    by_region: dict[str, list[int]] = defaultdict(list)
    for stream in streams:
        if stream.region_id is not None:
            by_region[stream.region.code].append(stream.pk)  # type: ignore[union-attr]
    counts: dict[int, int] = {}
    for code, stream_ids in by_region.items():
        rows = (
            TranscriptSegment.objects.using(content_alias(code))
            .filter(region_code=code, stream_id__in=stream_ids)
            .values("stream_id")
            .annotate(n=Count("id"))
        )
        counts.update({row["stream_id"]: row["n"] for row in rows})
    return counts


def segment_list_for_meeting(meeting: Meeting) -> list[TranscriptSegment]:
    """A meeting's segments in order (by stream creation, then seq), read from its region's database.
    A meeting with no region (quarantined) has no content by construction."""
    if meeting.region_id is None:
        return []
    code = meeting.region.code  # type: ignore[union-attr]
    stream_order = {
        pk: i
        for i, pk in enumerate(meeting.streams.order_by("created_at", "id").values_list("pk", flat=True))
    }
    # seq restarts with every stream, so a cursor over a meeting needs (stream, seq); the live page and the
    # API have their own (live/cursor.py, api/), and this whole-meeting read needs none.
    qs = TranscriptSegment.objects.using(content_alias(code)).filter(region_code=code, meeting_id=meeting.pk)
    segments = list(qs)
    segments.sort(key=lambda s: (stream_order.get(s.stream_id, len(stream_order)), s.stream_id, s.seq))
    return segments


def segment_as_dict(segment: TranscriptSegment) -> dict[str, Any]:
    return {
        "stream_id": segment.stream_id,
        "seq": segment.seq,
        "speaker_id": segment.speaker_id,
        "speaker": segment.speaker_name,
        "text": segment.text,
        "start_ms": segment.start_ms,
        "end_ms": segment.end_ms,
        "language": segment.language,
    }


def accounts_serving(scope: RegionScope) -> QuerySet[ZoomAccount]:
    """The Zoom accounts a scoped user may know of (issue #20): those whose default region is one of the
    user's, or with a meeting there (with quarantine access: a quarantined meeting). An account is not a
    region's, so this is the closest an account comes to a region scope."""
    if scope.all_regions:
        return ZoomAccount.objects.all()
    codes = sorted(scope.region_codes)
    in_scope = Q(region__code__in=codes)
    if scope.quarantine:
        in_scope |= quarantined_meetings()
    serving = Q(default_region__code__in=codes) | Q(
        pk__in=Meeting.objects.filter(in_scope).values("account_id")
    )
    return ZoomAccount.objects.filter(serving)
