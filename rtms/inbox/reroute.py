"""Sending quarantined events back through routing, after a residency rule was added: the one service the
admin and the REST API both call, so both enforce the same rules and leave the same audit row."""

from __future__ import annotations

import logging

from django.db import transaction

from controlplane.clock import SYSTEM_CLOCK, Clock
from rtms.capture import IllegalState
from rtms.inbox.publish import enqueue_route
from rtms.inbox.route import requeue_quarantined
from rtms.models import InboundEvent, InboxStatus, Meeting
from rtms.services import audit_record

logger = logging.getLogger(__name__)

REROUTE_ACTION = "event.reroute"


def meeting_reroute(
    meeting: Meeting, *, actor: str, source_ip: str | None, reason: str, via: str, clock: Clock = SYSTEM_CLOCK
) -> int:
    """Every quarantined event of ``meeting`` back through routing; audited even when none was left."""
    with transaction.atomic():
        count = requeue_quarantined(meeting)
        audit_record(
            actor=actor,
            action=REROUTE_ACTION,
            object_type="meeting",
            object_id=meeting.pk,
            source_ip=source_ip,
            detail={"events": count, "reason": reason, "via": via},
            clock=clock,
        )
    logger.info("inbox.rerouted", extra={"meeting_id": meeting.pk, "events": count})
    return count


def event_reroute(
    event: InboundEvent, *, actor: str, source_ip: str | None, reason: str = "", clock: Clock = SYSTEM_CLOCK
) -> int:
    """Send a quarantined event back through routing (after a residency rule was added).

    The whole meeting's quarantined events go together, so a ``meeting.started`` is never routed while
    its ``rtms_started`` stays behind. Returns how many events were re-queued. Raises IllegalState when the
    event is not (or no longer) quarantined.
    """
    event = InboundEvent.objects.select_related("meeting").get(pk=event.pk)
    if event.status != InboxStatus.QUARANTINED:
        raise IllegalState(f"the event is {event.status}, not quarantined")
    with transaction.atomic():
        if event.meeting is not None:
            count = requeue_quarantined(event.meeting)
        else:
            count = InboundEvent.objects.filter(pk=event.pk, status=InboxStatus.QUARANTINED).update(
                status=InboxStatus.PENDING, region=None, error=""
            )
            if count:
                transaction.on_commit(lambda: enqueue_route(event.pk))
        if not count:
            raise IllegalState("the event is no longer quarantined")
        audit_record(
            actor=actor,
            action=REROUTE_ACTION,
            object_type="inbound_event",
            object_id=event.pk,
            source_ip=source_ip,
            detail={"events": count, "meeting_id": event.meeting_id, "reason": reason},
            clock=clock,
        )
    logger.info("inbox.rerouted", extra={"event_id": event.pk, "events": count})
    return count
