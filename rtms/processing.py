"""Turning inbox rows into state: route (central) then apply (on the owning region's queue).

Both steps are idempotent. ``event_route`` only fills in the meeting and region of a pending row;
``event_apply`` locks the row, applies it through the state machine and marks it processed in the same
transaction, so a redelivered task finds it processed and does nothing. Events for one meeting may be
applied out of order (two channels, retries): every handler tolerates that, e.g. a late copy of an older
``rtms_started`` never rolls ``server_urls`` back and a stopped stream is never revived.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.db.models import F

from controlplane.clock import SYSTEM_CLOCK, Clock
from regions.models import Region
from regions.residency import MeetingFacts
from regions.routing import queue_for
from rtms import metrics
from rtms.gateway.notify import notify_gateways
from rtms.lifecycle import STREAM_ACTIVE, STREAM_TERMINAL, MeetingState, RoutingStatus, StreamState
from rtms.models import AccountMode, InboundEvent, InboxStatus, Meeting, RtmsStream, ZoomAccount
from rtms.residency import RoutingOutcome, route_meeting
from rtms.services import meeting_transition, stream_transition
from rtms.zoom.api import ZoomApi
from rtms.zoom.protocol import (
    ConcurrencyLimited,
    MeetingEnded,
    MeetingStarted,
    RtmsInterrupted,
    RtmsStarted,
    RtmsStopped,
    StopReason,
    ZoomEvent,
    data_centre_hint,
    parse_event,
)
from rtms.zoom.stop_policy import deletes_content

logger = logging.getLogger(__name__)

ApiFactory = Callable[[ZoomAccount], ZoomApi]
ZOOM_INTERRUPTED_CAUSE = "zoom.rtms_interrupted"


def _default_api_factory(account: ZoomAccount) -> ZoomApi:
    from rtms.zoom_clients import zoom_api_for

    return zoom_api_for(account)


# --- helpers -----------------------------------------------------------------------------------------
def meeting_uuid_of(event: ZoomEvent) -> str | None:
    if isinstance(event, MeetingStarted | MeetingEnded | RtmsStarted | RtmsStopped | RtmsInterrupted):
        return event.meeting_uuid
    if isinstance(event, ConcurrencyLimited):
        return event.id_field.get("meeting_uuid")
    return None


def facts_from_event(event: ZoomEvent) -> MeetingFacts:
    if isinstance(event, MeetingStarted | MeetingEnded):
        tracking = (
            None
            if event.tracking_fields is None
            else {f.field.strip().lower(): f.value for f in event.tracking_fields}
        )
        return MeetingFacts(
            account_id=event.account_id,
            host_id=event.host_id,
            host_email=event.host_email,
            meeting_id=event.meeting_id,
            tracking_fields=tracking,
        )
    if isinstance(event, RtmsStarted):
        return MeetingFacts(account_id=event.account_id, meeting_id=event.meeting_id)
    return MeetingFacts()


def account_for(account_id: str | None) -> ZoomAccount | None:
    """The event's account, or the default one when Zoom did not say (older RTMS payloads)."""
    from django.conf import settings

    wanted = account_id or settings.ZOOM_ACCOUNT_ID
    if not wanted:
        return None
    return ZoomAccount.objects.filter(zoom_account_id=wanted, active=True).first()


def _event_account_id(event: ZoomEvent) -> str | None:
    if isinstance(event, MeetingStarted | MeetingEnded):
        return event.account_id
    if isinstance(event, RtmsStarted):
        return event.account_id
    return None


def _ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


# --- route ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RouteResult:
    status: str  # routed | quarantined | ignored | skipped
    region_code: str | None = None


def meeting_ensure(
    uuid: str,
    account: ZoomAccount | None,
    outcome: RoutingOutcome,
    *,
    topic: str = "",
    started_at: datetime | None = None,
) -> Meeting:
    """The meeting row, created on first sight (by an event or by the reconciler). Once a meeting has a
    region it keeps it; a quarantined meeting is upgraded when a later attempt can route it."""
    facts = outcome.facts
    defaults = {
        "zoom_meeting_id": facts.meeting_id,
        "account": account,
        "host_id": facts.host_id or "",
        "host_email": facts.host_email or "",
        "topic": topic,
        "region": outcome.region,
        "routing_status": RoutingStatus.ROUTED if outcome.region else RoutingStatus.QUARANTINED,
        "routing_note": outcome.note[:255],
        "started_at": started_at,
    }
    try:
        with transaction.atomic():
            meeting, created = Meeting.objects.get_or_create(zoom_uuid=uuid, defaults=defaults)
    except IntegrityError:  # lost a creation race; the winner's row is the meeting
        meeting, created = Meeting.objects.get(zoom_uuid=uuid), False
    if not created and meeting.region_id is None and outcome.region is not None:
        upgraded = Meeting.objects.filter(pk=meeting.pk, region__isnull=True).update(
            region=outcome.region, routing_status=RoutingStatus.ROUTED, routing_note=outcome.note[:255]
        )
        meeting.refresh_from_db()
        if upgraded:
            logger.info("meeting.routed_after_quarantine", extra={"meeting_id": meeting.pk})
            requeue_quarantined(meeting)
    return meeting


def requeue_quarantined(meeting: Meeting) -> int:
    """Send a meeting's quarantined events back through routing (after a rule was added)."""
    ids = list(
        InboundEvent.objects.filter(meeting=meeting, status=InboxStatus.QUARANTINED).values_list(
            "pk", flat=True
        )
    )
    InboundEvent.objects.filter(pk__in=ids, status=InboxStatus.QUARANTINED).update(
        status=InboxStatus.PENDING, region=None, error=""
    )
    from rtms.ingest import enqueue_route

    for event_id in ids:
        transaction.on_commit(lambda event_id=event_id: enqueue_route(event_id))  # type: ignore[misc]
    return len(ids)


def enqueue_apply(event_id: int, region_code: str) -> None:
    from rtms.tasks import apply_event

    try:
        apply_event.apply_async(kwargs={"event_id": event_id}, queue=queue_for(region_code))
    except Exception as exc:  # the sweeper re-enqueues what is still pending
        logger.warning("inbox.enqueue_failed", extra={"event_id": event_id, "error": type(exc).__name__})


def event_route(
    event_id: int, *, api_factory: ApiFactory | None = None, clock: Clock = SYSTEM_CLOCK
) -> RouteResult:
    row = InboundEvent.objects.select_related("region").get(pk=event_id)
    if row.status != InboxStatus.PENDING:
        return RouteResult("skipped")
    InboundEvent.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1, last_attempt_at=clock.now())
    if row.region is not None:  # routed before; the apply task may have been lost
        transaction.on_commit(lambda: enqueue_apply(row.pk, row.region.code))  # type: ignore[union-attr]
        return RouteResult("routed", row.region.code)
    event = parse_event(row.payload)
    uuid = meeting_uuid_of(event)
    if uuid is None:
        InboundEvent.objects.filter(pk=row.pk, status=InboxStatus.PENDING).update(
            status=InboxStatus.IGNORED, processed_at=clock.now(), error="no meeting to apply it to"
        )
        return RouteResult("ignored")

    meeting: Meeting | None = None
    if isinstance(event, RtmsStopped | RtmsInterrupted):
        # Stop and interrupt follow the stream we stored, never a fresh decision.
        stream = (
            RtmsStream.objects.select_related("meeting").filter(rtms_stream_id=event.rtms_stream_id).first()
        )
        meeting = stream.meeting if stream is not None else None
    if meeting is None:
        meeting = Meeting.objects.filter(zoom_uuid=uuid).first()
    region: Region | None
    if meeting is not None and meeting.region_id is not None:
        region = Region.objects.get(pk=meeting.region_id)
    else:
        account = account_for(_event_account_id(event))
        outcome = route_meeting(
            facts_from_event(event), account=account, api_factory=api_factory or _default_api_factory
        )
        topic, started_at = "", None
        if isinstance(event, MeetingStarted | MeetingEnded):
            topic, started_at = event.topic, event.start_time
        meeting = meeting_ensure(uuid, account, outcome, topic=topic, started_at=started_at)
        region = Region.objects.get(pk=meeting.region_id) if meeting.region_id is not None else None

    with transaction.atomic():
        if region is None:
            InboundEvent.objects.filter(pk=row.pk, status=InboxStatus.PENDING).update(
                meeting=meeting, status=InboxStatus.QUARANTINED, error=meeting.routing_note[:255]
            )
            metrics.QUARANTINED.inc()
            logger.info("inbox.quarantined", extra={"event_id": row.pk, "meeting_id": meeting.pk})
            return RouteResult("quarantined")
        InboundEvent.objects.filter(pk=row.pk, status=InboxStatus.PENDING).update(
            meeting=meeting, region=region
        )
        transaction.on_commit(lambda: enqueue_apply(row.pk, region.code))
    return RouteResult("routed", region.code)


# --- apply ---------------------------------------------------------------------------------------------
def _data_centre_mismatch(region: Region | None, hint: str | None) -> bool:
    expected = [str(code).lower() for code in (region.zoom_data_centres if region else []) or []]
    if not hint or not expected:
        return False
    return not any(hint.lower().startswith(code) for code in expected)


def apply_meeting_started(event: MeetingStarted, meeting: Meeting, clock: Clock) -> None:
    now = clock.now()
    updates: dict[str, object] = {
        "last_seen_live_at": now,
        "zoom_meeting_id": event.meeting_id,
        "host_id": event.host_id,
    }
    if event.host_email:
        updates["host_email"] = event.host_email
    if event.topic:
        updates["topic"] = event.topic
    Meeting.objects.filter(pk=meeting.pk).update(**updates)
    Meeting.objects.filter(pk=meeting.pk, started_at__isnull=True).update(started_at=event.start_time or now)
    account = meeting.account or account_for(event.account_id)
    if account is not None and meeting.account_id is None:
        Meeting.objects.filter(pk=meeting.pk, account__isnull=True).update(account=account)
    if account is None or account.mode != AccountMode.API_START:
        return
    # One start call per meeting, however many copies of meeting.started arrive: the claim is the row.
    claimed = (
        Meeting.objects.filter(pk=meeting.pk, state=MeetingState.LIVE, rtms_start_requested_at__isnull=True)
        .exclude(streams__state__in=list(STREAM_ACTIVE))
        .update(rtms_start_requested_at=now)
    )
    if claimed:
        region_code = meeting.region.code  # type: ignore[union-attr]
        transaction.on_commit(lambda: enqueue_start(meeting.pk, region_code))


def enqueue_start(meeting_id: int, region_code: str) -> None:
    from rtms.tasks import start_rtms

    try:
        start_rtms.apply_async(kwargs={"meeting_id": meeting_id}, queue=queue_for(region_code))
    except Exception as exc:  # the reconciler restarts meetings that have no stream
        logger.warning(
            "rtms.start_enqueue_failed", extra={"meeting_id": meeting_id, "error": type(exc).__name__}
        )


def _close_active_streams(meeting: Meeting, *, cause: str, stop_reason: int, clock: Clock) -> None:
    for stream_id in meeting.streams.filter(state__in=list(STREAM_ACTIVE)).values_list("pk", flat=True):
        stream_transition(stream_id, StreamState.STOPPED, cause=cause, stop_reason=stop_reason, clock=clock)


def apply_meeting_ended(event: MeetingEnded, meeting: Meeting, clock: Clock) -> None:
    ended_at = event.end_time or clock.now()
    meeting_transition(
        meeting.pk, MeetingState.ENDED, cause="zoom.meeting_ended", fields={"ended_at": ended_at}, clock=clock
    )
    _close_active_streams(
        meeting, cause="zoom.meeting_ended", stop_reason=int(StopReason.MEETING_ENDED), clock=clock
    )


def apply_rtms_started(event: RtmsStarted, meeting: Meeting, clock: Clock) -> str:
    urls = list(event.server_urls)
    hint = data_centre_hint(event.server_urls)
    region = meeting.region
    stream, created = RtmsStream.objects.get_or_create(
        rtms_stream_id=event.rtms_stream_id,
        defaults={
            "meeting": meeting,
            "region": region,
            "server_urls": urls,
            "server_urls_event_ts": event.event_ts,
            "zoom_data_centre": hint or "",
            "data_centre_mismatch": _data_centre_mismatch(region, hint),
            "state_changed_at": clock.now(),
        },
    )
    if created:
        transaction.on_commit(lambda: notify_gateways(region.code) if region else None)
        if stream.data_centre_mismatch:
            logger.warning("stream.data_centre_mismatch", extra={"stream_id": stream.pk, "data_centre": hint})
        return "created"
    if stream.state in STREAM_TERMINAL:
        return "ignored_terminal"
    if event.event_ts <= stream.server_urls_event_ts or stream.server_urls == urls:
        return "duplicate"
    # zoom-protocol.md §2.6: a new rtms_started for an active stream is a server failover.
    fields = {
        "server_urls": urls,
        "server_urls_event_ts": event.event_ts,
        "server_generation": F("server_generation") + 1,
        "zoom_data_centre": hint or "",
        "data_centre_mismatch": _data_centre_mismatch(region, hint),
    }
    updated = RtmsStream.objects.filter(
        pk=stream.pk, server_urls_event_ts__lt=event.event_ts, state__in=list(STREAM_ACTIVE)
    ).update(**fields)
    if updated and stream.state != StreamState.WANTED:
        stream_transition(stream.pk, StreamState.WANTED, cause="zoom.failover", clock=clock)
    if updated and region is not None:
        transaction.on_commit(lambda: notify_gateways(region.code))
    return "failover" if updated else "duplicate"


def apply_rtms_interrupted(event: RtmsInterrupted, meeting: Meeting, clock: Clock) -> str:
    stream = RtmsStream.objects.filter(rtms_stream_id=event.rtms_stream_id).first()
    if stream is None or stream.state not in (
        StreamState.CONNECTING,
        StreamState.CONNECTED,
        StreamState.PAUSED,
    ):
        return "ignored"
    # event_ts lets the gateway tell a late webhook (it already reconnected since) from a fresh one.
    stream_transition(
        stream.pk,
        StreamState.INTERRUPTED,
        cause=ZOOM_INTERRUPTED_CAUSE,
        detail={"event_ts": event.event_ts},
        clock=clock,
    )
    return "interrupted"


def apply_rtms_stopped(event: RtmsStopped, meeting: Meeting, clock: Clock) -> str:
    stream, _ = RtmsStream.objects.get_or_create(
        rtms_stream_id=event.rtms_stream_id,
        # A stop for a stream we never saw still counts: it is stored, so a late rtms_started cannot
        # revive it and the reconciler sees the stop reason.
        defaults={"meeting": meeting, "region": meeting.region, "state_changed_at": clock.now()},
    )
    result = stream_transition(
        stream.pk,
        StreamState.STOPPED,
        cause="zoom.rtms_stopped",
        stop_reason=int(event.stop_reason),
        clock=clock,
    )
    if deletes_content(int(event.stop_reason)):
        # STREAM_REVOKED: the content goes at once, even for a repeat (a first purge may have failed).
        from compliance.revoked import revoked_stream_purge_after_commit

        stream_id, reason = stream.pk, int(event.stop_reason)
        transaction.on_commit(lambda: revoked_stream_purge_after_commit(stream_id, stop_reason=reason))
    return "stopped" if result.applied else "duplicate"


def apply_concurrency_limited(event: ConcurrencyLimited, meeting: Meeting, clock: Clock) -> str:
    Meeting.objects.filter(pk=meeting.pk).update(
        rtms_start_error_code=None,
        rtms_start_error=f"rtms.concurrency_limited: {event.concurrency_number} concurrent streams",
    )
    return "recorded"


def _erased(meeting: Meeting) -> bool:
    return Meeting.objects.filter(pk=meeting.pk, erasure__isnull=False).exists()


def event_apply(event_id: int, *, clock: Clock = SYSTEM_CLOCK) -> str:
    with transaction.atomic():
        row = InboundEvent.objects.select_for_update().get(pk=event_id)
        if row.status != InboxStatus.PENDING:
            return "skipped"
        if row.meeting_id is None:
            return "not_routed"
        meeting = Meeting.objects.select_related("region", "account").get(pk=row.meeting_id)
        event = parse_event(row.payload)
        outcome: str
        if isinstance(event, MeetingStarted | RtmsStarted) and _erased(meeting):
            # An erased meeting gets neither its personal data back nor a new capture (compliance/erasure.py).
            outcome = "ignored_erased"
        elif isinstance(event, MeetingStarted):
            apply_meeting_started(event, meeting, clock)
            outcome = "meeting_started"
        elif isinstance(event, MeetingEnded):
            apply_meeting_ended(event, meeting, clock)
            outcome = "meeting_ended"
        elif isinstance(event, RtmsStarted):
            outcome = apply_rtms_started(event, meeting, clock)
        elif isinstance(event, RtmsInterrupted):
            outcome = apply_rtms_interrupted(event, meeting, clock)
        elif isinstance(event, RtmsStopped):
            outcome = apply_rtms_stopped(event, meeting, clock)
        elif isinstance(event, ConcurrencyLimited):
            outcome = apply_concurrency_limited(event, meeting, clock)
        else:
            outcome = "ignored"
        InboundEvent.objects.filter(pk=row.pk).update(
            status=InboxStatus.PROCESSED,
            processed_at=clock.now(),
            attempts=F("attempts") + 1,
            last_attempt_at=clock.now(),
            error="",
        )
    metrics.APPLIED.labels(event.event).inc()
    logger.info("inbox.applied", extra={"event_id": event_id, "meeting_id": meeting.pk, "outcome": outcome})
    return outcome
