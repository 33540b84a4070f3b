"""Erasing a meeting on request (GDPR Art. 17): its content, its audio and the personal data in its control
rows, leaving a tombstone and an audit row.

The region database may be a separate server, so there is no transaction spanning both databases. The
steps are ordered so that a crash anywhere leaves a state the next request completes:

1. the tombstone is committed first (``completed_at`` empty: "erasure asked for, not finished");
2. transcript segments are deleted in the region's database (batches; re-running deletes what is left);
3. audio files are deleted from the region's media root (re-running finds fewer files);
4. in one control-database transaction: host and topic are blanked, inbox payloads replaced by stubs,
   the tombstone is completed and the ``meeting.erase`` audit row written.

``completed_at`` is therefore set only after the content is gone: a completed tombstone is proof, and an
incomplete one tells staff (and the API) to ask again. Counts add up across attempts, except rows deleted
by an attempt that crashed before recording them.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Final

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet

from compliance.content import audio_delete, payloads_scrub, segment_queryset, segments_delete
from compliance.models import ErasureTombstone
from controlplane.clock import SYSTEM_CLOCK, Clock
from rtms.lifecycle import STREAM_ACTIVE
from rtms.models import InboundEvent, InboxStatus, Meeting
from rtms.services import audit_record

logger = logging.getLogger(__name__)

ERASE_ACTION: Final = "meeting.erase"


class ErasureRefused(Exception):
    """The meeting cannot be erased right now; the message says what to do first."""


def _in_flight(meeting: Meeting, now: datetime) -> QuerySet[InboundEvent]:
    """Pending events a worker may be applying now. Older pending ones are stuck (the sweeper has had its
    turn), and failed ones are settled: neither may hold an erasure up."""
    fresh_since = now - settings.INBOX_SWEEP_AFTER
    return InboundEvent.objects.filter(
        meeting=meeting, status=InboxStatus.PENDING, received_at__gte=fresh_since
    )


def _refuse_if_busy(meeting: Meeting, now: datetime) -> None:
    active = list(meeting.streams.filter(state__in=list(STREAM_ACTIVE)).values_list("pk", flat=True))
    if active:
        raise ErasureRefused(
            f"meeting {meeting.pk} is being captured (streams {active}); stop RTMS first, then erase"
        )
    if _in_flight(meeting, now).exists():
        # Scrubbing a pending event would leave the worker nothing to apply; these clear in seconds.
        raise ErasureRefused(f"meeting {meeting.pk} has events still being processed; try again shortly")


def meeting_erase(
    meeting: Meeting, *, actor: str, reason: str, source_ip: str | None, clock: Clock = SYSTEM_CLOCK
) -> ErasureTombstone:
    """Erase ``meeting``'s personal data and content; idempotent. Raises ErasureRefused while capturing."""
    reason = reason.strip()
    if not reason:
        raise ValueError("an erasure needs a reason")
    now = clock.now()
    region_code = meeting.region.code if meeting.region_id else ""  # type: ignore[union-attr]

    tombstone = ErasureTombstone.objects.filter(meeting=meeting).first()
    if tombstone is not None and tombstone.completed_at is not None:
        audit_record(
            actor=actor,
            action=ERASE_ACTION,
            object_type="meeting",
            object_id=meeting.pk,
            region_code=region_code,
            source_ip=source_ip,
            detail={"already_erased": True, "tombstone": tombstone.pk, "reason": reason[:500]},
            clock=clock,
        )
        tombstone.already_erased = True
        return tombstone

    _refuse_if_busy(meeting, now)
    stream_ids = list(meeting.streams.order_by("id").values_list("pk", flat=True))
    # Step 1: the durable intent. A crashed earlier attempt left this row; we carry on with it.
    tombstone, _ = ErasureTombstone.objects.get_or_create(
        meeting=meeting,
        defaults={
            "region_code": region_code,
            "requested_by": actor[:150],
            "reason": reason,
            "source_ip": source_ip,
            "requested_at": now,
            "stream_ids": stream_ids,
        },
    )
    logger.info("erasure.started", extra={"meeting_id": meeting.pk, "tombstone_id": tombstone.pk})

    if region_code:
        # Step 2: region content, in the region's own database.
        segments = segments_delete(segment_queryset(region_code).filter(meeting_id=meeting.pk))
        ErasureTombstone.objects.filter(pk=tombstone.pk).update(
            segments_deleted=F("segments_deleted") + segments
        )
        # Step 3: audio in the region's media root.
        files = audio_delete(region_code, meeting_id=meeting.pk).files
        ErasureTombstone.objects.filter(pk=tombstone.pk).update(
            audio_files_deleted=F("audio_files_deleted") + files
        )

    # Step 4: control rows, completion and audit together, so "completed" and its audit row never disagree.
    with transaction.atomic():
        Meeting.objects.filter(pk=meeting.pk).update(host_email="", host_id="", topic="")
        meeting.host_email = meeting.host_id = meeting.topic = ""
        # Stuck events are settled first: scrubbed, they could never be applied, and an erased meeting must
        # not be captured again anyway.
        InboundEvent.objects.filter(meeting=meeting, status=InboxStatus.PENDING).update(
            status=InboxStatus.IGNORED, error="the meeting was erased before this event was applied"
        )
        payloads = payloads_scrub(InboundEvent.objects.filter(meeting=meeting), why="erasure")
        ErasureTombstone.objects.filter(pk=tombstone.pk).update(
            payloads_scrubbed=F("payloads_scrubbed") + payloads, completed_at=now
        )
        tombstone.refresh_from_db()
        audit_record(
            actor=actor,
            action=ERASE_ACTION,
            object_type="meeting",
            object_id=meeting.pk,
            region_code=region_code,
            source_ip=source_ip,
            detail={
                "tombstone": tombstone.pk,
                "reason": reason[:500],
                "streams": stream_ids,
                "segments_deleted": tombstone.segments_deleted,
                "audio_files_deleted": tombstone.audio_files_deleted,
                "payloads_scrubbed": tombstone.payloads_scrubbed,
            },
            clock=clock,
        )
    logger.info(
        "erasure.completed",
        extra={
            "meeting_id": meeting.pk,
            "tombstone_id": tombstone.pk,
            "segments": tombstone.segments_deleted,
            "audio_files": tombstone.audio_files_deleted,
            "payloads": tombstone.payloads_scrubbed,
        },
    )
    return tombstone
