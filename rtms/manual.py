"""Operator actions on one meeting: start or stop RTMS by hand, re-route a quarantined event.

Called by the REST API and the admin alike, so both enforce the same rules and leave the same audit row.
A refused action raises :class:`IllegalState` (the API answers 409); Zoom's own refusals and outages
propagate as :class:`rtms.zoom.api.ZoomApiError` (the API answers 502 with Zoom's code).

A manual stop is a deliberate decision, like a host's: it sets ``Meeting.rtms_manual_stop_at`` *before*
Zoom is called, so the reconciler (reconciler/core.py) never restarts the meeting, even if Zoom's stop
event is lost or reports a retryable reason. Only a manual start clears the marker. A manual start is
refused after a host's or participant's decision to stop (stop_policy CONSENT): an operator cannot
override consent, only the people in the meeting can.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from controlplane.clock import SYSTEM_CLOCK, Clock
from rtms.accounts import rtms_app_credentials
from rtms.lifecycle import STREAM_ACTIVE, MeetingState
from rtms.models import InboundEvent, InboxStatus, Meeting
from rtms.services import audit_record
from rtms.zoom.api import ZoomApi, ZoomApiError
from rtms.zoom.credentials import MissingCredentials
from rtms.zoom.stop_policy import StopPolicy, stop_policy

logger = logging.getLogger(__name__)

__all__ = [
    "IllegalState",
    "NotConfigured",
    "event_reroute",
    "rtms_start_manual",
    "rtms_stop_manual",
]


class IllegalState(Exception):
    """The meeting's (or event's) state does not allow the action. The message is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotConfigured(IllegalState):
    """The meeting's Zoom account lacks what the call needs (credentials, meeting number)."""


def _region_code(meeting: Meeting) -> str:
    return meeting.region.code if meeting.region is not None else ""


def _audit(
    meeting: Meeting,
    action: str,
    *,
    actor: str,
    reason: str,
    source_ip: str | None,
    result: str,
    clock: Clock,
    extra: dict[str, Any] | None = None,
) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type="meeting",
        object_id=meeting.pk,
        region_code=_region_code(meeting),
        source_ip=source_ip,
        detail={"reason": reason, "result": result, **(extra or {})},
        clock=clock,
    )


def _client_id(meeting: Meeting) -> str:
    if meeting.account is None or meeting.zoom_meeting_id is None:
        raise NotConfigured("the meeting has no Zoom account or meeting number to call Zoom with")
    try:
        return rtms_app_credentials(meeting.account).client_id
    except MissingCredentials as exc:
        raise NotConfigured(f"the meeting's Zoom account is not configured: {exc}") from None


def _zoom_api(meeting: Meeting) -> ZoomApi:
    from rtms.zoom_clients import zoom_api_for

    assert meeting.account is not None
    return zoom_api_for(meeting.account)


def _check_startable(meeting: Meeting) -> None:
    if meeting.state != MeetingState.LIVE:
        raise IllegalState("the meeting has ended; RTMS can only be started for a live meeting")
    if meeting.region_id is None:
        raise IllegalState(
            "the meeting is quarantined (no region owns it): add a residency rule and re-route it first"
        )
    streams = list(meeting.streams.order_by("created_at", "id"))
    if any(s.state in STREAM_ACTIVE for s in streams):
        raise IllegalState("the meeting already has an active stream")
    if streams and meeting.rtms_manual_stop_at is None:
        last = streams[-1]
        if stop_policy(last.stop_reason) is StopPolicy.CONSENT:
            raise IllegalState(
                f"the last stream was stopped by a host's or participant's decision "
                f"(stop reason {last.stop_reason}); only they can start it again"
            )


def rtms_start_manual(
    meeting: Meeting, *, actor: str, reason: str, source_ip: str | None, clock: Clock = SYSTEM_CLOCK
) -> None:
    """Ask Zoom to start RTMS for a live, routed meeting with no active stream."""
    meeting = Meeting.objects.select_related("account", "region").get(pk=meeting.pk)
    _check_startable(meeting)
    client_id = _client_id(meeting)
    now = clock.now()
    # The claim, compared with what we read: a start claimed meanwhile (ingest, the reconciler, another
    # operator) stands and ours is refused rather than fighting it.
    claimed = Meeting.objects.filter(
        pk=meeting.pk, state=MeetingState.LIVE, rtms_start_requested_at=meeting.rtms_start_requested_at
    ).update(rtms_start_requested_at=now)
    if not claimed:
        raise IllegalState("another start of RTMS for this meeting is in flight")
    assert meeting.zoom_meeting_id is not None
    try:
        _zoom_api(meeting).rtms_app_status(meeting.zoom_meeting_id, "start", rtms_client_id=client_id)
    except ZoomApiError as exc:
        Meeting.objects.filter(pk=meeting.pk).update(
            rtms_start_error_code=exc.code,
            rtms_start_error=(exc.message or str(exc))[:255],
            rtms_start_error_at=now,
        )
        _audit(
            meeting,
            "rtms.start_manual",
            actor=actor,
            reason=reason,
            source_ip=source_ip,
            result="zoom_error",
            clock=clock,
            extra={"zoom_status": exc.status, "zoom_code": exc.code},
        )
        logger.warning(
            "rtms.start_manual_refused",
            extra={"meeting_id": meeting.pk, "status": exc.status, "code": exc.code},
        )
        raise
    # An operator looked at the meeting: the reconciler's restart budget starts again.
    Meeting.objects.filter(pk=meeting.pk).update(
        rtms_start_called_at=now,
        rtms_start_error_code=None,
        rtms_start_error="",
        rtms_start_error_at=None,
        rtms_manual_stop_at=None,
        restart_attempts=0,
    )
    _audit(
        meeting,
        "rtms.start_manual",
        actor=actor,
        reason=reason,
        source_ip=source_ip,
        result="called",
        clock=clock,
    )
    logger.info("rtms.start_manual", extra={"meeting_id": meeting.pk})


def rtms_stop_manual(
    meeting: Meeting, *, actor: str, reason: str, source_ip: str | None, clock: Clock = SYSTEM_CLOCK
) -> None:
    """Ask Zoom to stop RTMS for a live meeting, and make sure nothing restarts it behind the operator."""
    meeting = Meeting.objects.select_related("account", "region").get(pk=meeting.pk)
    if meeting.state != MeetingState.LIVE:
        raise IllegalState("the meeting has ended; there is no stream to stop")
    client_id = _client_id(meeting)
    now = clock.now()
    # The marker first: if Zoom's stop event is lost, or the call fails, the decision still holds.
    marked = Meeting.objects.filter(pk=meeting.pk, state=MeetingState.LIVE).update(rtms_manual_stop_at=now)
    if not marked:
        raise IllegalState("the meeting has ended; there is no stream to stop")
    assert meeting.zoom_meeting_id is not None
    try:
        _zoom_api(meeting).rtms_app_status(meeting.zoom_meeting_id, "stop", rtms_client_id=client_id)
    except ZoomApiError as exc:
        _audit(
            meeting,
            "rtms.stop_manual",
            actor=actor,
            reason=reason,
            source_ip=source_ip,
            result="zoom_error",
            clock=clock,
            extra={"zoom_status": exc.status, "zoom_code": exc.code},
        )
        logger.warning(
            "rtms.stop_manual_refused",
            extra={"meeting_id": meeting.pk, "status": exc.status, "code": exc.code},
        )
        raise
    _audit(
        meeting,
        "rtms.stop_manual",
        actor=actor,
        reason=reason,
        source_ip=source_ip,
        result="called",
        clock=clock,
    )
    logger.info("rtms.stop_manual", extra={"meeting_id": meeting.pk})


def event_reroute(
    event: InboundEvent, *, actor: str, source_ip: str | None, reason: str = "", clock: Clock = SYSTEM_CLOCK
) -> int:
    """Send a quarantined event back through routing (after a residency rule was added).

    The whole meeting's quarantined events go together, so a ``meeting.started`` is never routed while
    its ``rtms_started`` stays behind. Returns how many events were re-queued.
    """
    from rtms.ingest import enqueue_route
    from rtms.processing import requeue_quarantined

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
            action="event.reroute",
            object_type="inbound_event",
            object_id=event.pk,
            source_ip=source_ip,
            detail={"events": count, "meeting_id": event.meeting_id, "reason": reason},
            clock=clock,
        )
    logger.info("inbox.rerouted", extra={"event_id": event.pk, "events": count})
    return count
