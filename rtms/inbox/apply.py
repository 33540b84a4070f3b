"""Applying an event (worker, the owning region's queue): meetings and streams move through their state
machines.

``event_apply`` locks the row, applies it and marks it processed in the same transaction, so a redelivered
task finds it processed and does nothing. Events for one meeting may be applied out of order (two channels,
retries): every handler tolerates that, e.g. a late copy of an older ``rtms_started`` never rolls
``server_urls`` back and a stopped stream is never revived.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, F, Q

from controlplane.clock import SYSTEM_CLOCK, Clock
from regions.models import Region
from rtms import hooks, metrics
from rtms.gateway.notify import notify_gateways
from rtms.inbox.attempts import Verdict, attempt
from rtms.inbox.facts import account_for
from rtms.inbox.payloads import event_body, payload_to_region, settled_body_to_region
from rtms.inbox.publish import enqueue_start
from rtms.inbox.redaction import payload_stub
from rtms.lifecycle import STREAM_ACTIVE, STREAM_TERMINAL, MeetingState, StreamState
from rtms.models import AccountMode, InboundEvent, InboxStatus, Meeting, RtmsStream
from rtms.personal import details_save
from rtms.services import meeting_transition, stream_transition
from rtms.zoom.protocol import (
    ConcurrencyLimited,
    MeetingEnded,
    MeetingStarted,
    RtmsInterrupted,
    RtmsStarted,
    RtmsStopped,
    StopReason,
    UnknownEvent,
    data_centre_hint,
    parse_event,
)
from rtms.zoom.server_urls import server_urls_refusal
from rtms.zoom.stop_policy import deletes_content

logger = logging.getLogger(__name__)

# The cause an interruption from Zoom records; the gateway tells it from its own interruptions by it.
ZOOM_INTERRUPTED_CAUSE = "zoom.rtms_interrupted"


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
    Meeting.objects.filter(pk=meeting.pk).update(**updates)
    # The topic and e-mail go to the region's database, here, in the region's own worker.
    details_save(meeting, topic=event.topic, host_email=event.host_email)
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
        # Zoom auto-starts RTMS for some users even in api mode, and a start that meets that stream is
        # refused or replaces it: give Zoom's own start a grace period; the task then finds its stream.
        grace = settings.RTMS_START_GRACE
        transaction.on_commit(lambda: enqueue_start(meeting.pk, region_code, delay=grace))


def _close_active_streams(meeting: Meeting, *, cause: str, stop_reason: int, clock: Clock) -> None:
    for stream_id in meeting.streams.filter(state__in=list(STREAM_ACTIVE)).values_list("pk", flat=True):
        stream_transition(stream_id, StreamState.STOPPED, cause=cause, stop_reason=stop_reason, clock=clock)


def apply_meeting_ended(event: MeetingEnded, meeting: Meeting, clock: Clock) -> None:
    ended_at = event.end_time or clock.now()
    details_save(meeting, topic=event.topic, host_email=event.host_email)  # meeting.started may be lost
    meeting_transition(
        meeting.pk, MeetingState.ENDED, cause="zoom.meeting_ended", fields={"ended_at": ended_at}, clock=clock
    )
    _close_active_streams(
        meeting, cause="zoom.meeting_ended", stop_reason=int(StopReason.MEETING_ENDED), clock=clock
    )


def server_urls_refused(urls: Iterable[str]) -> str | None:
    return server_urls_refusal(urls, settings.RTMS_SERVER_HOSTS, allow_plain_ws=settings.RTMS_ALLOW_PLAIN_WS)


SERVER_URLS_REFUSED_CAUSE = "refused.server_urls"


def _fail_refused_server_urls(stream_id: int, refusal: str, clock: Clock) -> None:
    """The event was verified, but the servers it names are not Zoom's (or not encrypted): never connect."""
    logger.warning("stream.server_urls_refused", extra={"stream_id": stream_id, "reason": refusal})
    stream_transition(
        stream_id,
        StreamState.FAILED,
        cause=SERVER_URLS_REFUSED_CAUSE,
        detail={"reason": refusal},
        clock=clock,
    )


def apply_rtms_started(event: RtmsStarted, meeting: Meeting, clock: Clock) -> str:
    urls = list(event.server_urls)
    hint = data_centre_hint(event.server_urls)
    region = meeting.region
    refusal = server_urls_refused(urls)
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
    if created and refusal is not None:
        _fail_refused_server_urls(stream.pk, refusal, clock)
        return "refused_server_urls"
    if created:
        transaction.on_commit(lambda: notify_gateways(region.code) if region else None)
        if stream.data_centre_mismatch:
            logger.warning("stream.data_centre_mismatch", extra={"stream_id": stream.pk, "data_centre": hint})
        return "created"
    if stream.state in STREAM_TERMINAL:
        return "ignored_terminal"
    if event.event_ts <= stream.server_urls_event_ts or stream.server_urls == urls:
        return "duplicate"
    if refusal is not None:  # a failover to servers we must not connect to ends the stream
        _fail_refused_server_urls(stream.pk, refusal, clock)
        return "refused_server_urls"
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
        stream_id, reason = stream.pk, int(event.stop_reason)
        transaction.on_commit(lambda: hooks.announce_stream_revoked(stream_id=stream_id, stop_reason=reason))
    return "stopped" if result.applied else "duplicate"


def apply_concurrency_limited(event: ConcurrencyLimited, meeting: Meeting, clock: Clock) -> str:
    Meeting.objects.filter(pk=meeting.pk).update(
        rtms_start_error_code=None,
        rtms_start_error=f"rtms.concurrency_limited: {event.concurrency_number} concurrent streams",
    )
    return "recorded"


def event_apply(event_id: int, *, clock: Clock = SYSTEM_CLOCK) -> str:
    """Apply a routed event once. Returns its outcome; "error" (left pending for another try), "failed"
    (given up at INBOX_MAX_ATTEMPTS) and "illegal_transition" are recorded on the row
    (rtms/inbox/attempts.py). Transient trouble below the maximum is raised for the task to retry."""
    outcome = attempt(event_id, lambda: _apply(event_id, clock), outcome=str, clock=clock)
    if outcome in (Verdict.FAILED.value, Verdict.ILLEGAL.value):
        # Settled without being applied: its body still goes to the region, as an applied one's does.
        settled_body_to_region(event_id)
    return outcome


def _apply(event_id: int, clock: Clock) -> str:
    with transaction.atomic():
        # Locks the inbox row only: FOR UPDATE on the join would serialise every apply of a region.
        row = InboundEvent.objects.select_for_update(of=("self",)).select_related("region").get(pk=event_id)
        if row.status != InboxStatus.PENDING:
            return "skipped"
        if row.meeting_id is None:
            return "not_routed"
        meeting = (
            Meeting.objects.select_related("region", "account")
            .annotate(erased=ExpressionWrapper(Q(erasure__isnull=False), output_field=BooleanField()))
            .get(pk=row.meeting_id)
        )
        event = parse_event(event_body(row))  # from the region's database if it moved there already
        outcome: str
        if isinstance(event, MeetingStarted | RtmsStarted) and meeting.erased:
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
        # The body moves to the region's database, written by this, the region's own worker; the control
        # row keeps a stub (rtms/inbox/payloads.py). A rollback leaves both: the retry finds the copy.
        if outcome == "ignored_erased":  # an erased meeting's body is kept nowhere
            stub = payload_stub(row.event_type, row.event_ts, "erasure")
        else:
            stub = payload_to_region(row, region_code=row.region.code, meeting_id=meeting.pk)  # type: ignore[union-attr]
        # An event type we do not parse was routed only so that its body reaches the region: kept, ignored.
        settled = InboxStatus.IGNORED if isinstance(event, UnknownEvent) else InboxStatus.PROCESSED
        InboundEvent.objects.filter(pk=row.pk).update(
            status=settled, processed_at=clock.now(), error="", payload=stub
        )
    metrics.APPLIED.labels(event.event).inc()
    logger.info("inbox.applied", extra={"event_id": event_id, "meeting_id": meeting.pk, "outcome": outcome})
    return outcome
