"""STREAM_REVOKED (stop reason 8, zoom-protocol.md §2.4.10): the stream's assets must be deleted at once.

Called after commit when an ``rtms_stopped`` with reason 8 is applied (rtms/inbox/apply.py, through
``rtms.hooks.stream_revoked``; connected in compliance/apps.py), and again by
every retention sweep for revoked streams that still hold content (a gateway may flush a last batch after
the stop, or the first attempt may have failed). Idempotent; the audit row is the stub that stays.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from compliance.content import audio_delete, segment_queryset, segments_delete
from controlplane.clock import SYSTEM_CLOCK, Clock
from rtms.models import AuditLog, RtmsStream
from rtms.services import audit_record
from rtms.zoom.stop_policy import deletes_content

logger = logging.getLogger(__name__)

PURGE_ACTION: Final = "stream.content_purge"


@dataclass(frozen=True)
class StreamPurge:
    stream_id: int
    segments: int
    audio_files: int
    done_before: bool  # nothing left to delete and a purge was already recorded


def revoked_stream_purge(
    stream_id: int, *, stop_reason: int | None = None, clock: Clock = SYSTEM_CLOCK
) -> StreamPurge:
    """``stop_reason`` is the reason Zoom just sent; without it the stored one counts (an earlier stop
    with another reason may have been recorded first, but a revocation still wins)."""
    stream = RtmsStream.objects.select_related("meeting__region").get(pk=stream_id)
    reason = stop_reason if stop_reason is not None else stream.stop_reason
    if not deletes_content(reason):
        raise ValueError(f"stream {stream_id} was not revoked (stop reason {reason})")
    region = stream.meeting.region
    if region is None:  # a quarantined meeting never had content
        return StreamPurge(stream_id, 0, 0, done_before=True)
    code = region.code
    segments = segments_delete(segment_queryset(code).filter(stream_id=stream_id))
    files = audio_delete(code, meeting_id=stream.meeting_id, stream_id=stream_id).files
    recorded = AuditLog.objects.filter(
        action=PURGE_ACTION, object_type="stream", object_id=str(stream_id)
    ).exists()
    if segments or files or not recorded:
        audit_record(
            actor="system:retention",
            action=PURGE_ACTION,
            object_type="stream",
            object_id=stream_id,
            region_code=code,
            detail={
                "meeting": stream.meeting_id,
                "stop_reason": reason,
                "segments_deleted": segments,
                "audio_files_deleted": files,
            },
            clock=clock,
        )
        logger.info(
            "stream.content_purged",
            extra={
                "stream_id": stream_id,
                "meeting_id": stream.meeting_id,
                "segments": segments,
                "files": files,
            },
        )
    return StreamPurge(stream_id, segments, files, done_before=recorded and not (segments or files))


def purge_when_revoked(sender: object, *, stream_id: int, stop_reason: int, **_: object) -> None:
    """The receiver of ``rtms.hooks.stream_revoked`` (sent after the stop committed): never lets a purge
    failure undo the applied stop; the next retention sweep retries what is left."""
    try:
        revoked_stream_purge(stream_id, stop_reason=stop_reason)
    except Exception as exc:
        logger.error(
            "stream.content_purge_failed", extra={"stream_id": stream_id, "error": type(exc).__name__}
        )
