"""Reads for the API that the rest of the project does not need."""

from __future__ import annotations

from django.db.models import Q

from regions.storage import content_alias
from rtms.models import Meeting, TranscriptSegment


def segment_page(
    meeting: Meeting,
    *,
    stream_id: int | None,
    after: tuple[int, int] | None,
    limit: int,
) -> list[TranscriptSegment]:
    """Up to ``limit`` segments in (stream, seq) order after ``after``, read from the region's database.

    Stream ids grow with creation, so (stream_id, seq) is capture order; the keyset uses the
    (stream_id, seq) unique index. A quarantined meeting has no content by construction.
    """
    if meeting.region_id is None:
        return []
    code = meeting.region.code  # type: ignore[union-attr]
    qs = TranscriptSegment.objects.using(content_alias(code)).filter(region_code=code, meeting_id=meeting.pk)
    if stream_id is not None:
        qs = qs.filter(stream_id=stream_id)
    if after is not None:
        after_stream, after_seq = after
        qs = qs.filter(Q(stream_id__gt=after_stream) | Q(stream_id=after_stream, seq__gt=after_seq))
    return list(qs.order_by("stream_id", "seq")[:limit])
