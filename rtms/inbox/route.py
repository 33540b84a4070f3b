"""Routing an event (worker, queue ``control``): the residency rules decide which region owns its meeting.

Idempotent: it only fills in the meeting and region of a pending row, and hands it to the region's queue
after commit (where the region's worker applies it and moves its body to the region's database). Stop and
interrupt events follow the stream we stored, never a fresh decision; a meeting no rule places is
quarantined (stored, visible in the admin, never processed outside a region).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from controlplane.clock import SYSTEM_CLOCK, Clock
from regions.models import Region
from rtms import metrics
from rtms.inbox.attempts import attempt
from rtms.inbox.facts import account_for, event_account_id, facts_from_event, meeting_uuid_of
from rtms.inbox.publish import enqueue_apply, enqueue_route
from rtms.lifecycle import RoutingStatus
from rtms.models import InboundEvent, InboxStatus, Meeting, RtmsStream, ZoomAccount
from rtms.personal import control_email_fields
from rtms.residency import ApiFactory, RoutingOutcome, route_meeting
from rtms.zoom.protocol import (
    MeetingEnded,
    MeetingStarted,
    RtmsInterrupted,
    RtmsStopped,
    UnknownEvent,
    parse_event,
)
from rtms.zoom_clients import zoom_api_for

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RouteResult:
    status: str  # routed | quarantined | ignored | skipped, or error | failed (rtms/inbox/attempts.py)
    region_code: str | None = None


def new_meeting_fields(
    account: ZoomAccount | None, outcome: RoutingOutcome, *, started_at: datetime | None
) -> dict[str, Any]:
    """A new meeting row's fields, however it is created (one by one here, or in bulk by the reconciler)."""
    facts = outcome.facts
    return {
        "zoom_meeting_id": facts.meeting_id,
        "account": account,
        "host_id": facts.host_id or "",
        **control_email_fields(facts.host_email),
        "region": outcome.region,
        "routing_status": RoutingStatus.ROUTED if outcome.region else RoutingStatus.QUARANTINED,
        "routing_note": outcome.note[:255],
        "started_at": started_at,
    }


def meeting_ensure(
    uuid: str,
    account: ZoomAccount | None,
    outcome: RoutingOutcome,
    *,
    started_at: datetime | None = None,
) -> Meeting:
    """The meeting row, created on first sight (by an event or by the reconciler). Once a meeting has a
    region it keeps it; a quarantined meeting is upgraded when a later attempt can route it. It holds no
    topic and no e-mail, only the e-mail's domain and keyed hash: the region's worker records the text in
    the region's database when it applies the meeting's events (rtms/personal.py)."""
    defaults = new_meeting_fields(account, outcome, started_at=started_at)
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
    for event_id in ids:
        transaction.on_commit(lambda event_id=event_id: enqueue_route(event_id))  # type: ignore[misc]
    return len(ids)


def event_route(
    event_id: int, *, api_factory: ApiFactory | None = None, clock: Clock = SYSTEM_CLOCK
) -> RouteResult:
    """Route a pending event once; an attempt that fails is recorded on the row as event_apply's are
    (rtms/inbox/attempts.py), and transient trouble below the maximum is raised for the task to retry."""
    factory = api_factory or zoom_api_for
    return attempt(event_id, lambda: _route(event_id, factory, clock), outcome=RouteResult, clock=clock)


def _route_unparsed(row: InboundEvent, clock: Clock) -> RouteResult:
    """An event type we do not parse (participant events, say) that names a meeting: it follows the
    meeting if we know it and it is routed, so that its body (names, e-mails) goes to that region. It
    never creates a meeting; without one it is ignored and its body expires with the rows never routed."""
    meeting = (
        Meeting.objects.select_related("region").filter(zoom_uuid=row.meeting_uuid).first()
        if row.meeting_uuid
        else None
    )
    if meeting is None or meeting.region is None:
        InboundEvent.objects.filter(pk=row.pk, status=InboxStatus.PENDING).update(
            status=InboxStatus.IGNORED, processed_at=clock.now(), error="not a routed meeting's event"
        )
        return RouteResult("ignored")
    region = meeting.region
    with transaction.atomic():
        InboundEvent.objects.filter(pk=row.pk, status=InboxStatus.PENDING).update(
            meeting=meeting, region=region
        )
        transaction.on_commit(lambda: enqueue_apply(row.pk, region.code))
    return RouteResult("routed", region.code)


def _route(event_id: int, api_factory: ApiFactory, clock: Clock) -> RouteResult:
    row = InboundEvent.objects.select_related("region").get(pk=event_id)
    if row.status != InboxStatus.PENDING:
        return RouteResult("skipped")
    if row.region is not None:  # routed before; the apply task may have been lost
        transaction.on_commit(lambda: enqueue_apply(row.pk, row.region.code))  # type: ignore[union-attr]
        return RouteResult("routed", row.region.code)
    event = parse_event(row.payload)
    if isinstance(event, UnknownEvent):
        return _route_unparsed(row, clock)
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
            RtmsStream.objects.select_related("meeting__region")
            .filter(rtms_stream_id=event.rtms_stream_id)
            .first()
        )
        meeting = stream.meeting if stream is not None else None
    if meeting is None:
        meeting = Meeting.objects.select_related("region").filter(zoom_uuid=uuid).first()
    region: Region | None
    if meeting is not None and meeting.region is not None:
        region = meeting.region
    else:
        account = account_for(event_account_id(event), row.source_account_id)
        outcome = route_meeting(facts_from_event(event), account=account, api_factory=api_factory)
        started_at = event.start_time if isinstance(event, MeetingStarted | MeetingEnded) else None
        meeting = meeting_ensure(uuid, account, outcome, started_at=started_at)
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
