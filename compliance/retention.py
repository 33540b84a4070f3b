"""Retention: each region keeps transcripts, audio and raw inbox payloads for as long as its policy says.

Only data older than the region's own configured period is touched; a region without a policy keeps
everything and is reported as such (no built-in default: the period is a legal decision, not ours). With
``dry_run`` nothing changes and the report says what would go.

What goes, per region with a policy:

- transcript segments created before ``now - transcript_days`` (region database);
- the host e-mail, host id and topic of meetings that ended before that same cutoff (control database):
  the meeting's metadata does not outlive its transcript;
- WAV parts last written before ``now - audio_days`` (region media root);
- inbox payloads received before ``now - inbox_payload_days``, replaced by a stub; quarantined events
  (no region yet) follow the shortest inbox period of all policies and are marked ignored, since a stub
  cannot be routed;
- anything still held by a stream stopped with STREAM_REVOKED (compliance/revoked.py), whatever its age.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from django.db import transaction
from django.db.models import Min, Q

from compliance.content import audio_delete, payloads_scrub, segment_queryset, segments_delete
from compliance.models import RetentionPolicy
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
    revoked_streams: int = 0
    error: str = ""

    @property
    def deleted_anything(self) -> bool:
        return any(
            (self.segments, self.meetings_scrubbed, self.audio_files, self.payloads, self.revoked_streams)
        )


@dataclass
class RetentionReport:
    dry_run: bool
    now: datetime
    regions: list[RegionRetention] = field(default_factory=list)
    regions_without_policy: list[str] = field(default_factory=list)
    quarantined_payloads: int = 0

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
                f"host/topic of {r.meetings_scrubbed} meeting(s); revoked streams with content: "
                f"{r.revoked_streams}"
            )
        out.append(f"quarantine: {verb} {self.quarantined_payloads} inbox payload(s)")
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
    meetings = Meeting.objects.filter(region=region, ended_at__lt=transcript_cutoff).filter(
        ~Q(host_email="") | ~Q(host_id="") | ~Q(topic="")
    )
    result.meetings_scrubbed = (
        meetings.count() if dry_run else meetings.update(host_email="", host_id="", topic="")
    )
    deleted = audio_delete(code, modified_before=now - timedelta(days=policy.audio_days), dry_run=dry_run)
    result.audio_files, result.audio_bytes = deleted.files, deleted.bytes
    result.payloads = payloads_scrub(
        InboundEvent.objects.filter(
            region=region, received_at__lt=now - timedelta(days=policy.inbox_payload_days)
        ).exclude(status=InboxStatus.PENDING),
        why="retention",
        dry_run=dry_run,
    )
    revoked = _revoked_with_content(code, region)
    result.revoked_streams = len(revoked)
    if not dry_run:
        for stream_id in revoked:
            revoked_stream_purge(stream_id)
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
            "revoked_streams": result.revoked_streams,
        },
    )
    return result


def retention_sweep_quarantine(*, dry_run: bool, now: datetime) -> int:
    """Quarantined events belong to no region: the shortest inbox period of any policy applies."""
    shortest = RetentionPolicy.objects.aggregate(days=Min("inbox_payload_days"))["days"]
    if shortest is None:
        return 0
    stale = InboundEvent.objects.filter(
        region__isnull=True, status=InboxStatus.QUARANTINED, received_at__lt=now - timedelta(days=shortest)
    )
    if dry_run:
        return payloads_scrub(stale, why="retention", dry_run=True)
    with transaction.atomic():
        ids = list(stale.values_list("pk", flat=True))
        scrubbed = payloads_scrub(InboundEvent.objects.filter(pk__in=ids), why="retention")
        InboundEvent.objects.filter(pk__in=ids).update(
            status=InboxStatus.IGNORED, error="payload removed by retention before it could be routed"
        )
        if scrubbed:
            audit_record(
                actor=SWEEP_ACTOR,
                action=SWEEP_ACTION,
                object_type="quarantine",
                detail={"payloads": scrubbed, "inbox_payload_days": shortest},
            )
    return scrubbed


def retention_sweep(
    *, dry_run: bool, now: datetime | None = None, region_codes: list[str] | None = None
) -> RetentionReport:
    """Apply (or, with ``dry_run``, report) every region's policy; ``region_codes`` limits the regions
    and skips the quarantine (which belongs to no region)."""
    now = now or SYSTEM_CLOCK.now()
    report = RetentionReport(dry_run=dry_run, now=now)
    regions = Region.objects.order_by("code")
    if region_codes is not None:
        regions = regions.filter(code__in=region_codes)
    policies = {p.region_id: p for p in RetentionPolicy.objects.select_related("region")}
    for region in regions:
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
        report.quarantined_payloads = retention_sweep_quarantine(dry_run=dry_run, now=now)
    return report
