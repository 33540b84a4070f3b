"""Retention: each region keeps transcripts, audio and raw inbox payloads for as long as its policy says.

Only data older than the region's own configured period is touched; a region without a policy keeps
everything and is reported as such (no built-in default: the period is a legal decision, not ours). With
``dry_run`` nothing changes and the report says what would go.

What goes, per region with a policy:

- transcript segments created before ``now - transcript_days`` (region database);
- the topic and host e-mail (region database) and the host id, e-mail hash and domain (control database)
  of meetings that ended before that same cutoff: the meeting's metadata does not outlive its transcript;
- WAV parts last written before ``now - audio_days`` (region media root);
- inbox payloads received before ``now - inbox_payload_days``, replaced by a stub.

What goes in every region, with a policy or without (no policy can waive these):

- anything still held by a stream stopped with STREAM_REVOKED (compliance/revoked.py), whatever its age;
- content of an erased meeting that reached the region after its erasure (a late flush), whatever its age.

And outside any region: the payloads of inbox rows that were never routed (quarantined, ignored event
types, rows that failed before routing) go after ``INBOX_UNROUTED_PAYLOAD_DAYS``, or the shortest inbox
period of any policy if that is shorter; quarantined ones are then marked ignored, since a stub cannot be
routed.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from django.conf import settings
from django.db import transaction
from django.db.models import Min, Q

from compliance.content import (
    audio_delete,
    content_delete,
    meeting_details_queryset,
    payloads_scrub,
    routed_payload_queryset,
    segment_queryset,
    segments_delete,
)
from compliance.models import ErasureTombstone, RetentionPolicy
from compliance.revoked import revoked_stream_purge
from controlplane.clock import SYSTEM_CLOCK
from regions.models import Region
from regions.storage import RegionStorageNotConfigured
from rtms.models import InboundEvent, InboxStatus, Meeting, RtmsStream
from rtms.services import audit_record
from rtms.zoom.protocol import StopReason

logger = logging.getLogger(__name__)

SWEEP_ACTION: Final = "retention.sweep"
SWEEP_ACTOR: Final = "system:retention"
_ID_CHUNK: Final = 1000


@dataclass
class RegionRetention:
    region_code: str
    transcript_days: int
    audio_days: int
    inbox_payload_days: int
    segments: int = 0
    meetings_scrubbed: int = 0
    audio_files: int = 0
    audio_bytes: int = 0
    payloads: int = 0
    error: str = ""

    @property
    def deleted_anything(self) -> bool:
        return any((self.segments, self.meetings_scrubbed, self.audio_files, self.payloads))


@dataclass
class RegionDuties:
    """What every sweep deletes in a region, whatever its policy."""

    region_code: str
    revoked_streams: int = 0
    erased_segments: int = 0
    erased_payloads: int = 0
    erased_audio_files: int = 0
    error: str = ""


@dataclass
class RetentionReport:
    dry_run: bool
    now: datetime
    regions: list[RegionRetention] = field(default_factory=list)
    regions_without_policy: list[str] = field(default_factory=list)
    duties: list[RegionDuties] = field(default_factory=list)
    quarantined_payloads: int = 0
    unrouted_payloads: int = 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["now"] = self.now.isoformat()
        return data

    def lines(self) -> list[str]:
        verb = "would delete" if self.dry_run else "deleted"
        out = [f"retention sweep at {self.now.isoformat()} ({'dry run' if self.dry_run else 'applied'})"]
        for r in self.regions:
            if r.error:
                out.append(f"{r.region_code}: skipped: {r.error}")
                continue
            out.append(
                f"{r.region_code} (transcripts {r.transcript_days} d, audio {r.audio_days} d, "
                f"inbox payloads {r.inbox_payload_days} d): {verb} {r.segments} transcript segment(s), "
                f"{r.audio_files} audio file(s) ({r.audio_bytes} bytes), {r.payloads} inbox payload(s), "
                f"host/topic of {r.meetings_scrubbed} meeting(s)"
            )
        for d in self.duties:
            if d.error:
                out.append(f"{d.region_code}: revoked and erased content not checked: {d.error}")
                continue
            out.append(
                f"{d.region_code}: revoked streams with content: {d.revoked_streams}; content that reached "
                f"erased meetings late: {verb} {d.erased_segments} segment(s), {d.erased_payloads} event "
                f"body(ies), {d.erased_audio_files} audio file(s)"
            )
        out.append(
            f"never routed: {verb} {self.unrouted_payloads} inbox payload(s), "
            f"{self.quarantined_payloads} of them quarantined"
        )
        for code in self.regions_without_policy:
            out.append(f"{code}: no retention policy, nothing deleted")
        return out


def _revoked_with_content(region_code: str, region: Region) -> list[int]:
    revoked = list(
        RtmsStream.objects.filter(meeting__region=region, stop_reason=int(StopReason.STREAM_REVOKED))
        .order_by("pk")
        .values_list("pk", "meeting_id")
    )
    holding: set[int] = set()
    for start in range(0, len(revoked), _ID_CHUNK):
        chunk = [pk for pk, _ in revoked[start : start + _ID_CHUNK]]
        holding.update(
            segment_queryset(region_code)
            .filter(stream_id__in=chunk)
            .values_list("stream_id", flat=True)
            .distinct()
        )
    for pk, meeting_id in revoked:
        if (
            pk not in holding
            and audio_delete(region_code, meeting_id=meeting_id, stream_id=pk, dry_run=True).files
        ):
            holding.add(pk)
    return sorted(holding)


def retention_sweep_region(policy: RetentionPolicy, *, dry_run: bool, now: datetime) -> RegionRetention:
    region = policy.region
    code = region.code
    result = RegionRetention(code, policy.transcript_days, policy.audio_days, policy.inbox_payload_days)
    transcript_cutoff = now - timedelta(days=policy.transcript_days)

    result.segments = segments_delete(
        segment_queryset(code).filter(created_at__lt=transcript_cutoff), dry_run=dry_run
    )
    result.meetings_scrubbed = _meeting_details_sweep(region, transcript_cutoff, dry_run=dry_run)
    deleted = audio_delete(code, modified_before=now - timedelta(days=policy.audio_days), dry_run=dry_run)
    result.audio_files, result.audio_bytes = deleted.files, deleted.bytes
    payload_cutoff = now - timedelta(days=policy.inbox_payload_days)
    # Bodies of routed events live in the region's database; rows routed before they moved there
    # (manage.py move_to_regions) still hold theirs in the control row.
    result.payloads = content_delete(
        routed_payload_queryset(code).filter(received_at__lt=payload_cutoff), dry_run=dry_run
    ) + payloads_scrub(
        InboundEvent.objects.filter(region=region, received_at__lt=payload_cutoff).exclude(
            status=InboxStatus.PENDING
        ),
        why="retention",
        dry_run=dry_run,
    )
    if not dry_run:
        if result.deleted_anything:
            audit_record(
                actor=SWEEP_ACTOR,
                action=SWEEP_ACTION,
                object_type="region",
                object_id=code,
                region_code=code,
                detail={k: v for k, v in asdict(result).items() if k not in ("region_code", "error")},
            )
    logger.info(
        "retention.region_swept",
        extra={
            "region": code,
            "dry_run": dry_run,
            "segments": result.segments,
            "audio_files": result.audio_files,
            "payloads": result.payloads,
            "meetings": result.meetings_scrubbed,
        },
    )
    return result


def _meeting_details_sweep(region: Region, cutoff: datetime, *, dry_run: bool) -> int:
    """A meeting's topic and host e-mail (region database) and its host id, e-mail hash and domain
    (control) do not outlive its transcript: gone for meetings that ended before ``cutoff``. Returns how
    many meetings lost something."""
    code = region.code
    scrubbed: set[int] = set()
    held = list(meeting_details_queryset(code).order_by("meeting_id").values_list("meeting_id", flat=True))
    for start in range(0, len(held), _ID_CHUNK):
        ended = set(
            Meeting.objects.filter(pk__in=held[start : start + _ID_CHUNK], ended_at__lt=cutoff).values_list(
                "pk", flat=True
            )
        )
        content_delete(meeting_details_queryset(code).filter(meeting_id__in=ended), dry_run=dry_run)
        scrubbed |= ended
    in_control = Meeting.objects.filter(region=region, ended_at__lt=cutoff).filter(
        ~Q(host_id="")
        | ~Q(host_email_hash="")
        | ~Q(host_email_domain="")
        | ~Q(legacy_host_email="")
        | ~Q(legacy_topic="")
    )
    scrubbed |= set(in_control.values_list("pk", flat=True))
    if not dry_run:
        in_control.update(
            host_id="", host_email_hash="", host_email_domain="", legacy_host_email="", legacy_topic=""
        )
    return len(scrubbed)


def _erased_meetings(region_code: str) -> list[int]:
    return list(
        ErasureTombstone.objects.filter(region_code=region_code, completed_at__isnull=False)
        .order_by("meeting_id")
        .values_list("meeting_id", flat=True)
    )


def duties_sweep_region(region: Region, *, dry_run: bool) -> RegionDuties:
    """Deletions no policy can waive: a revoked stream's content, and content that reached an erased
    meeting after its erasure (a gateway's last flush). Every region, every sweep."""
    code = region.code
    duties = RegionDuties(code)
    revoked = _revoked_with_content(code, region)
    duties.revoked_streams = len(revoked)
    erased = _erased_meetings(code)
    for start in range(0, len(erased), _ID_CHUNK):
        chunk = erased[start : start + _ID_CHUNK]
        duties.erased_segments += segments_delete(
            segment_queryset(code).filter(meeting_id__in=chunk), dry_run=dry_run
        )
        duties.erased_payloads += content_delete(
            routed_payload_queryset(code).filter(meeting_id__in=chunk), dry_run=dry_run
        )
    for meeting_id in erased:
        duties.erased_audio_files += audio_delete(code, meeting_id=meeting_id, dry_run=dry_run).files
    if dry_run:
        return duties
    for stream_id in revoked:
        revoked_stream_purge(stream_id)
    if duties.erased_segments or duties.erased_payloads or duties.erased_audio_files:
        logger.warning(
            "retention.erased_content_deleted_again",
            extra={
                "region": code,
                "segments": duties.erased_segments,
                "payloads": duties.erased_payloads,
                "files": duties.erased_audio_files,
            },
        )
        audit_record(
            actor=SWEEP_ACTOR,
            action=SWEEP_ACTION,
            object_type="region",
            object_id=code,
            region_code=code,
            detail={
                "erased_segments_deleted": duties.erased_segments,
                "erased_payloads_deleted": duties.erased_payloads,
                "erased_audio_files_deleted": duties.erased_audio_files,
            },
        )
    return duties


@dataclass(frozen=True)
class UnroutedSweep:
    payloads: int
    quarantined: int


def unrouted_payload_days() -> int:
    """How long a row that was never routed keeps its payload: the setting, or the shortest inbox period
    of any policy if that is shorter."""
    shortest = RetentionPolicy.objects.aggregate(days=Min("inbox_payload_days"))["days"]
    configured = int(settings.INBOX_UNROUTED_PAYLOAD_DAYS)
    return configured if shortest is None else min(configured, int(shortest))


def retention_sweep_unrouted(*, dry_run: bool, now: datetime) -> UnroutedSweep:
    """Rows that never reached a region (quarantined, ignored event types, failed before routing) belong
    to no region's policy; pending ones are left to the inbox."""
    days = unrouted_payload_days()
    stale = InboundEvent.objects.filter(
        region__isnull=True, received_at__lt=now - timedelta(days=days)
    ).exclude(status=InboxStatus.PENDING)
    quarantined = stale.filter(status=InboxStatus.QUARANTINED)
    if dry_run:
        return UnroutedSweep(
            payloads_scrub(stale, why="retention", dry_run=True),
            payloads_scrub(quarantined, why="retention", dry_run=True),
        )
    with transaction.atomic():
        quarantined_ids = list(quarantined.values_list("pk", flat=True))
        from_quarantine = payloads_scrub(InboundEvent.objects.filter(pk__in=quarantined_ids), why="retention")
        InboundEvent.objects.filter(pk__in=quarantined_ids).update(
            status=InboxStatus.IGNORED, error="payload removed by retention before it could be routed"
        )
        scrubbed = from_quarantine + payloads_scrub(stale, why="retention")
        if scrubbed:
            audit_record(
                actor=SWEEP_ACTOR,
                action=SWEEP_ACTION,
                object_type="quarantine",
                detail={"payloads": scrubbed, "quarantined": from_quarantine, "inbox_payload_days": days},
            )
    return UnroutedSweep(scrubbed, from_quarantine)


def retention_sweep(
    *, dry_run: bool, now: datetime | None = None, region_codes: list[str] | None = None
) -> RetentionReport:
    """Apply (or, with ``dry_run``, report) every region's policy and duties; ``region_codes`` limits the
    regions and skips the rows that were never routed (which belong to no region)."""
    now = now or SYSTEM_CLOCK.now()
    report = RetentionReport(dry_run=dry_run, now=now)
    regions = Region.objects.order_by("code")
    if region_codes is not None:
        regions = regions.filter(code__in=region_codes)
    policies = {p.region_id: p for p in RetentionPolicy.objects.select_related("region")}
    for region in regions:
        try:
            report.duties.append(duties_sweep_region(region, dry_run=dry_run))
        except RegionStorageNotConfigured as exc:
            # Only an inactive region can lack storage (regions/startup.py); it may still hold old content.
            logger.error("retention.region_unconfigured", extra={"region": region.code})
            report.duties.append(RegionDuties(region.code, error=str(exc)))
        policy = policies.get(region.pk)
        if policy is None:
            report.regions_without_policy.append(region.code)
            continue
        try:
            report.regions.append(retention_sweep_region(policy, dry_run=dry_run, now=now))
        except RegionStorageNotConfigured as exc:
            logger.error("retention.region_unconfigured", extra={"region": region.code})
            report.regions.append(
                RegionRetention(
                    region.code,
                    policy.transcript_days,
                    policy.audio_days,
                    policy.inbox_payload_days,
                    error=str(exc),
                )
            )
    if region_codes is None:
        unrouted = retention_sweep_unrouted(dry_run=dry_run, now=now)
        report.unrouted_payloads, report.quarantined_payloads = unrouted.payloads, unrouted.quarantined
    return report
