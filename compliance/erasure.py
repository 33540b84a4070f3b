"""Erasing a meeting on request (GDPR Art. 17): its content, its audio and the personal data in its control
rows, leaving a tombstone and an audit row.

The region database may be a separate server, so there is no transaction spanning both databases. The
steps are ordered so that a crash anywhere leaves a state the next request completes:

1. the tombstone is committed first (``completed_at`` empty: "erasure asked for, not finished");
2. transcript segments are deleted in the region's database (batches; re-running deletes what is left);
3. audio files are deleted from the region's media root (re-running finds fewer files), and the bodies of
   its routed events from the region's database;
4. in one control-database transaction: host and topic are blanked, the payload of every inbox row that
   names the meeting (``inbox_rows_naming``) replaced by a stub, the tombstone completed and the
   ``meeting.erase`` audit row written; after commit, open live pages of the meeting are closed.

It waits (refuses, saying when to retry) while a stream captures, while a gateway still holds a stopped
stream's lease (it may be flushing its last lines), and while a fresh event of the meeting is pending.
Whatever still reaches the meeting afterwards is erased too: events are stored as stubs
(rtms/inbox/receive.py), and every retention sweep deletes content of erased meetings again
(compliance/retention.py).

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
from django.db.models import F, Q, QuerySet

from compliance.content import (
    audio_delete,
    content_delete,
    meeting_details_queryset,
    payloads_scrub,
    routed_payload_queryset,
    segment_fence_queryset,
    segment_queryset,
    segments_delete,
)
from compliance.models import ErasureTombstone
from controlplane.clock import SYSTEM_CLOCK, Clock
from rtms import hooks
from rtms.lifecycle import STREAM_ACTIVE
from rtms.models import InboundEvent, InboxStatus, Meeting
from rtms.services import audit_record

logger = logging.getLogger(__name__)

ERASE_ACTION: Final = "meeting.erase"


class ErasureRefused(Exception):
    """The meeting cannot be erased right now; the message says what to do first."""


def inbox_rows_naming(meeting: Meeting) -> QuerySet[InboundEvent]:
    """Every inbox row that names the meeting, whatever its status: the rows routed to it, and those that
    never were (event types we do not parse, such as participant events; rows that failed or were
    quarantined before routing) but name it in their payload or dedupe key. Matched by the meeting's
    uuid and its streams' Zoom ids; the JSON lookups scan the inbox, which an erasure can afford."""
    uuid = meeting.zoom_uuid
    named = (
        Q(meeting=meeting)
        | Q(meeting_uuid=uuid)
        | Q(payload__payload__object__uuid=uuid)
        | Q(payload__payload__meeting_uuid=uuid)
        | Q(payload__payload__webinar_uuid=uuid)
        | Q(payload__payload__id_field__meeting_uuid=uuid)
        | Q(dedupe_key__contains=f":{uuid}:")
    )
    zoom_stream_ids = list(meeting.streams.values_list("rtms_stream_id", flat=True))
    if zoom_stream_ids:
        named |= Q(payload__payload__rtms_stream_id__in=zoom_stream_ids)
    return InboundEvent.objects.filter(named)


def _in_flight(meeting: Meeting, now: datetime) -> QuerySet[InboundEvent]:
    """Pending events a worker may be applying now. Older pending ones are stuck (the sweeper has had its
    turn), and failed ones are settled: neither may hold an erasure up."""
    fresh_since = now - settings.INBOX_SWEEP_AFTER
    return inbox_rows_naming(meeting).filter(status=InboxStatus.PENDING, received_at__gte=fresh_since)


def _refuse_if_busy(meeting: Meeting, now: datetime) -> None:
    active = list(meeting.streams.filter(state__in=list(STREAM_ACTIVE)).values_list("pk", flat=True))
    if active:
        raise ErasureRefused(
            f"meeting {meeting.pk} is being captured (streams {active}); stop RTMS first, then erase"
        )
    # A stopped stream's gateway may still be flushing its last lines: it holds the lease until it is done
    # (or the lease lapses). Erasing meanwhile would let those lines land after the erasure.
    held = list(
        meeting.streams.filter(lease_expires_at__gt=now).exclude(lease_owner="").values_list("pk", flat=True)
    )
    if held:
        raise ErasureRefused(
            f"meeting {meeting.pk}: a gateway still holds streams {held} while it finishes writing; "
            f"try again in {int(settings.STREAM_LEASE_TTL.total_seconds())} s at most"
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
        # Step 3b: its topic and host e-mail, and the bodies of its routed events, in the region's database.
        content_delete(meeting_details_queryset(region_code).filter(meeting_id=meeting.pk))
        content_delete(segment_fence_queryset(region_code).filter(meeting_id=meeting.pk))
        bodies = content_delete(routed_payload_queryset(region_code).filter(meeting_id=meeting.pk))
        ErasureTombstone.objects.filter(pk=tombstone.pk).update(
            payloads_scrubbed=F("payloads_scrubbed") + bodies
        )

    # Step 4: control rows, completion and audit together, so "completed" and its audit row never disagree.
    with transaction.atomic():
        Meeting.objects.filter(pk=meeting.pk).update(
            host_id="", host_email_hash="", host_email_domain="", legacy_host_email="", legacy_topic=""
        )
        meeting.host_id = ""
        # Stuck events are settled first: scrubbed, they could never be applied, and an erased meeting must
        # not be captured again anyway.
        named = inbox_rows_naming(meeting)
        named.filter(status=InboxStatus.PENDING).update(
            status=InboxStatus.IGNORED, error="the meeting was erased before this event was applied"
        )
        payloads = payloads_scrub(named, why="erasure")
        ErasureTombstone.objects.filter(pk=tombstone.pk).update(
            payloads_scrubbed=F("payloads_scrubbed") + payloads, completed_at=now
        )
        tombstone.refresh_from_db()
        # After commit: an open live page of the meeting is closed (live/apps.py).
        transaction.on_commit(lambda: hooks.announce_meeting_erased(meeting_id=meeting.pk))
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
