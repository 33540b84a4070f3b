"""Starting and stopping RTMS for a meeting: the one service every adapter calls.

Three paths ask Zoom for a stream, and all three check rtms/start_guard.py first:

- ingest (``rtms_start``): after ``meeting.started`` for an account that starts RTMS through the API. The
  claim (``rtms_start_requested_at``) was taken when the event was applied; this makes the call once and
  records Zoom's answer. Zoom's refusals (2308 not allowed, 2310 no plan, 3001 not live) are recorded for
  the admin and the reconciler, not retried here. A 2310 because a stream we never saw is running is not
  a refusal: that stream is stopped and a new one asked for once Zoom has stopped it (if Zoom takes
  longer than ``RTMS_STOP_SETTLE_SECONDS``, the reconciler starts it).
- an operator (``rtms_start_manual``, ``rtms_stop_manual``), from the admin or the REST API: refusals
  raise :class:`IllegalState` (the API answers 409); Zoom's refusals and outages propagate as
  :class:`rtms.zoom.api.ZoomApiError` (the API answers 502 with Zoom's code). Both leave an audit row.
- the reconciler (``rtms_restart``), for a live meeting without a healthy stream.

A manual stop is a deliberate decision, like a host's: it sets ``Meeting.rtms_manual_stop_at`` *before*
Zoom is called, so nothing restarts the meeting behind the operator, even if Zoom's stop event is lost or
reports a retryable reason. Only a manual start clears the marker; it cannot override a host's or
participant's decision to stop (consent): only the people in the meeting can.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from controlplane.clock import SYSTEM_CLOCK, Clock
from rtms import metrics
from rtms.accounts import rtms_app_credentials
from rtms.leases import lease_held, lease_owner
from rtms.lifecycle import STREAM_ACTIVE, MeetingState
from rtms.models import Meeting, RtmsStream
from rtms.selectors import meeting_erased
from rtms.services import audit_record
from rtms.start_guard import Refusal, Refused, Starter, StartFacts, start_refusal, stopped_by_us
from rtms.zoom.api import ZoomApi, ZoomApiError, ZoomRateLimited, ZoomUnavailable
from rtms.zoom.credentials import MissingCredentials
from rtms.zoom_clients import zoom_api_for
from rtms.zoom_pacing import wait_for_status_turn

logger = logging.getLogger(__name__)

RtmsAction = Literal["start", "stop"]
# Zoom's answer to a start while a stream of the meeting still runs (also its "no plan" answer: only right
# after our own stop is it read as the former).
START_WHILE_RUNNING = 2310

__all__ = [
    "IllegalState",
    "NotConfigured",
    "StartCheck",
    "rtms_restart",
    "rtms_start",
    "rtms_start_failed",
    "rtms_start_manual",
    "rtms_stop_manual",
    "start_checks",
    "start_refused",
]


class IllegalState(Exception):
    """The meeting's (or event's) state does not allow the action. The message is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotConfigured(IllegalState):
    """The meeting's Zoom account lacks what the call needs (credentials, meeting number)."""


# --- the guard, fed from the database ---------------------------------------------------------------------
def _facts(meeting: Meeting, streams: list[RtmsStream], *, erased: bool) -> StartFacts:
    """``streams`` oldest first."""
    last = streams[-1] if streams else None
    return StartFacts(
        live=meeting.state == MeetingState.LIVE,
        routed=meeting.region_id is not None,
        erased=erased,
        stopped_manually=meeting.rtms_manual_stop_at is not None,
        active_stream=any(s.state in STREAM_ACTIVE for s in streams),
        last_stop_reason=last.stop_reason if last else None,
        has_streams=bool(streams),
        last_stopped_by_us=last is not None
        and stopped_by_us(
            last.stop_reason,
            last.state_changed_at,
            meeting.rtms_self_stop_at,
            own_start_at=meeting.rtms_start_called_at,
            window=settings.RTMS_START_REPLACES_WINDOW,
        ),
    )


def start_facts(meeting: Meeting) -> StartFacts:
    streams = list(meeting.streams.order_by("created_at", "id"))
    return _facts(meeting, streams, erased=meeting_erased(pk=meeting.pk))


@dataclass(frozen=True)
class StartCheck:
    """A meeting (with its account) and its start facts, read for many meetings at once before a reconcile
    run's repairs (``start_checks``). The claim of each start then refuses if what the facts rest on moved
    since they were read, so a check read seconds earlier is as safe as one read just before the call."""

    meeting: Meeting
    facts: StartFacts
    stream_ids: frozenset[int]
    newest_change: datetime | None  # the latest state_changed_at among those streams


def start_checks(meeting_pks: Collection[int]) -> dict[int, StartCheck]:
    """Three queries for any number of meetings, instead of three per meeting."""
    meetings = Meeting.objects.select_related("account").filter(pk__in=meeting_pks)
    erased = set(
        Meeting.objects.filter(pk__in=meeting_pks, erasure__isnull=False).values_list("pk", flat=True)
    )
    streams: dict[int, list[RtmsStream]] = defaultdict(list)
    for stream in RtmsStream.objects.filter(meeting_id__in=meeting_pks).order_by("created_at", "id"):
        streams[stream.meeting_id].append(stream)
    return {m.pk: _check(m, streams[m.pk], erased=m.pk in erased) for m in meetings}


def _check(meeting: Meeting, streams: list[RtmsStream], *, erased: bool) -> StartCheck:
    return StartCheck(
        meeting,
        _facts(meeting, streams, erased=erased),
        frozenset(s.pk for s in streams),
        max((s.state_changed_at for s in streams if s.state_changed_at is not None), default=None),
    )


def _unchanged(meetings: QuerySet[Meeting], check: StartCheck) -> QuerySet[Meeting]:
    """Only if, since ``check`` was read, the meeting was neither erased nor stopped by an operator and no
    stream of it appeared or changed state."""
    changed = RtmsStream.objects.filter(meeting_id=OuterRef("pk")).exclude(pk__in=check.stream_ids)
    if check.newest_change is not None:
        changed = RtmsStream.objects.filter(meeting_id=OuterRef("pk")).filter(
            ~Q(pk__in=check.stream_ids) | Q(state_changed_at__gt=check.newest_change)
        )
    return meetings.filter(rtms_manual_stop_at__isnull=True, erasure__isnull=True).exclude(Exists(changed))


def start_refused(meeting: Meeting, starter: Starter) -> Refused | None:
    return start_refusal(start_facts(meeting), starter)


# --- what every start records ------------------------------------------------------------------------------
def _record_refusal(meeting_id: int, code: int | None, message: str, at: datetime) -> None:
    Meeting.objects.filter(pk=meeting_id).update(
        rtms_start_error_code=code, rtms_start_error=message[:255], rtms_start_error_at=at
    )


def _claim_start(
    meeting_id: int,
    *,
    seen: datetime | None,
    now: datetime,
    checked: StartCheck | None = None,
    **fields: Any,
) -> bool:
    """The start claim, compared with what the caller read: a start claimed meanwhile (ingest, the
    reconciler, an operator) stands and this one is dropped rather than fighting it. Facts read a while
    ago (``checked``) must also still hold (``_unchanged``)."""
    meetings = Meeting.objects.filter(pk=meeting_id, state=MeetingState.LIVE, rtms_start_requested_at=seen)
    if checked is not None:
        meetings = _unchanged(meetings, checked)
    return bool(meetings.update(rtms_start_requested_at=now, **fields))


def _zoom_call(api: ZoomApi, meeting: Meeting, client_id: str, action: RtmsAction) -> None:
    assert meeting.zoom_meeting_id is not None and meeting.account is not None
    wait_for_status_turn(meeting.account.zoom_account_id)
    api.rtms_app_status(meeting.zoom_meeting_id, action, rtms_client_id=client_id)


def _stopped_unseen_stream(api: ZoomApi, meeting: Meeting, client_id: str, clock: Clock) -> bool:
    """After a start refused with 2310. Zoom gives that one answer both to a start while a stream runs and
    to an account without an RTMS plan; a stop tells them apart. Accepted, it proves a stream we never saw
    was running (auto-started for its host, its rtms_started lost) and is now stopping: an expected
    outcome, and a new stream is asked for once Zoom has finished the stop (``_start_once_stopped``).
    Refused, there is nothing running and the 2310 stands."""
    # Recorded before asking: Zoom's rtms_stopped for it (reason 2) is then never taken for a decision.
    Meeting.objects.filter(pk=meeting.pk).update(rtms_self_stop_at=clock.now())
    try:
        _zoom_call(api, meeting, client_id, "stop")
    except (ZoomUnavailable, ZoomRateLimited):
        raise
    except ZoomApiError:
        return False
    logger.info("rtms.start_met_running_stream", extra={"meeting_id": meeting.pk})
    return True


def _start_or_replace(api: ZoomApi, meeting: Meeting, client_id: str, clock: Clock, *, stopped: bool) -> bool:
    """Ask Zoom for a stream; ``stopped``: the caller has just stopped one. A start refused because a
    stream we never saw is running stops that stream first (``_stopped_unseen_stream``). False: Zoom still
    holds a stream that is stopping, so the start is left for later. Any other refusal is raised."""
    if not stopped:
        try:
            _zoom_call(api, meeting, client_id, "start")
            return True
        except (ZoomUnavailable, ZoomRateLimited):
            raise
        except ZoomApiError as exc:
            if exc.code != START_WHILE_RUNNING or not _stopped_unseen_stream(api, meeting, client_id, clock):
                raise
    return _start_once_stopped(api, meeting, client_id)


def _start_once_stopped(api: ZoomApi, meeting: Meeting, client_id: str) -> bool:
    """The start that follows a stop. Zoom refuses a start (2310) until the stream has finished stopping,
    which takes it a moment: asked again a few times over ``RTMS_STOP_SETTLE`` rather than left to a
    reconcile run a back-off later, while the meeting's speech goes uncaptured (bench/chaos.py lost whole
    short meetings that way). False: still refused with 2310 when the settle time is up; any other refusal
    is raised as it came."""
    settle = settings.RTMS_STOP_SETTLE.total_seconds()
    deadline = time.monotonic() + settle
    while True:
        try:
            _zoom_call(api, meeting, client_id, "start")
            return True
        except ZoomApiError as exc:
            if exc.code != START_WHILE_RUNNING:
                raise
            if time.monotonic() >= deadline:
                return False
        time.sleep(min(settle / 5, max(0.0, deadline - time.monotonic())))


# --- ingest -----------------------------------------------------------------------------------------------
class StartInFlight(Exception):
    """Another run of the same start holds its lease: this one must not call Zoom now (retry later)."""


def start_lease_ttl() -> timedelta:
    """Long enough for one start: the status turn and Zoom's answer, each bounded by the HTTP timeout. A
    run killed mid-call holds it no longer than this, short of the broker's redelivery in production."""
    return timedelta(seconds=settings.ZOOM_HTTP_TIMEOUT.total_seconds() * 3)


def rtms_start(meeting_id: int, *, clock: Clock = SYSTEM_CLOCK) -> str:
    """The start claimed when ``meeting.started`` was applied. Transient Zoom trouble raises (the task
    retries); anything else is recorded and returned.

    One run at a time per meeting, by a database lease: a task held past the broker's visibility timeout
    is delivered again while it still runs, and two runs that both found no start recorded would both
    call Zoom (the second start then meets the first one's stream). The second run raises StartInFlight
    and retries; by then the first has recorded its call, or failed and let go."""
    owner = lease_owner(str(threading.get_ident()))
    with lease_held(f"rtms-start:{meeting_id}", owner, start_lease_ttl()) as held:
        if held is None:
            logger.info("rtms.start_in_flight", extra={"meeting_id": meeting_id})
            raise StartInFlight(meeting_id)
        return _rtms_start_once(meeting_id, clock=clock)


def _rtms_start_once(meeting_id: int, *, clock: Clock) -> str:
    meeting = Meeting.objects.select_related("account").get(pk=meeting_id)
    if meeting.rtms_start_called_at is not None:
        return "already_called"  # a redelivered task must not call Zoom twice
    refused = start_refused(meeting, Starter.INGEST)
    if refused is not None:
        return refused.refusal.value
    if meeting.account is None or meeting.zoom_meeting_id is None:
        _record_refusal(meeting_id, None, "no account or meeting id to start RTMS with", SYSTEM_CLOCK.now())
        return "cannot_start"
    try:
        client_id = rtms_app_credentials(meeting.account).client_id
        api = zoom_api_for(meeting.account)
        started = _start_or_replace(api, meeting, client_id, clock, stopped=False)
    except MissingCredentials as exc:
        _record_refusal(meeting_id, None, str(exc), SYSTEM_CLOCK.now())
        metrics.RTMS_STARTS.labels("misconfigured").inc()
        return "misconfigured"
    except (ZoomUnavailable, ZoomRateLimited):
        metrics.RTMS_STARTS.labels("transient").inc()
        raise
    except ZoomApiError as exc:
        _record_refusal(meeting_id, exc.code, exc.message or str(exc), SYSTEM_CLOCK.now())
        metrics.RTMS_STARTS.labels("refused").inc()
        logger.warning(
            "rtms.start_refused", extra={"meeting_id": meeting_id, "status": exc.status, "code": exc.code}
        )
        return "refused"
    if not started:
        metrics.RTMS_STARTS.labels("met_running").inc()
        return "stop_requested"
    Meeting.objects.filter(pk=meeting_id).update(
        rtms_start_called_at=clock.now(), rtms_start_error_code=None, rtms_start_error=""
    )
    metrics.RTMS_STARTS.labels("called").inc()
    logger.info("rtms.start_called", extra={"meeting_id": meeting_id})
    return "called"


def rtms_start_failed(meeting_id: int, exc: Exception) -> None:
    """The start task gave up after its retries."""
    _record_refusal(
        meeting_id,
        getattr(exc, "code", None),
        f"gave up after retries: {type(exc).__name__}",
        SYSTEM_CLOCK.now(),
    )
    metrics.RTMS_STARTS.labels("gave_up").inc()


# --- an operator ------------------------------------------------------------------------------------------
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
        region_code=meeting.region.code if meeting.region is not None else "",
        source_ip=source_ip,
        detail={"reason": reason, "result": result, **(extra or {})},
        clock=clock,
    )


def _operator_client_id(meeting: Meeting) -> str:
    if meeting.account is None or meeting.zoom_meeting_id is None:
        raise NotConfigured("the meeting has no Zoom account or meeting number to call Zoom with")
    try:
        return rtms_app_credentials(meeting.account).client_id
    except MissingCredentials as exc:
        raise NotConfigured(f"the meeting's Zoom account is not configured: {exc}") from None


def _operator_call(
    meeting: Meeting,
    action: RtmsAction,
    client_id: str,
    *,
    actor: str,
    reason: str,
    source_ip: str | None,
    clock: Clock,
) -> None:
    """Ask Zoom, and audit the answer either way; Zoom's refusal is raised after it is recorded."""
    assert meeting.account is not None
    audit_action = f"rtms.{action}_manual"
    try:
        _zoom_call(zoom_api_for(meeting.account), meeting, client_id, action)
    except ZoomApiError as exc:
        _audit(
            meeting,
            audit_action,
            actor=actor,
            reason=reason,
            source_ip=source_ip,
            result="zoom_error",
            clock=clock,
            extra={"zoom_status": exc.status, "zoom_code": exc.code},
        )
        logger.warning(
            f"{audit_action}_refused",
            extra={"meeting_id": meeting.pk, "status": exc.status, "code": exc.code},
        )
        raise
    _audit(
        meeting, audit_action, actor=actor, reason=reason, source_ip=source_ip, result="called", clock=clock
    )
    logger.info(audit_action, extra={"meeting_id": meeting.pk})


def rtms_start_manual(
    meeting: Meeting, *, actor: str, reason: str, source_ip: str | None, clock: Clock = SYSTEM_CLOCK
) -> None:
    """Ask Zoom to start RTMS for a live, routed meeting with no active stream."""
    meeting = Meeting.objects.select_related("account", "region").get(pk=meeting.pk)
    refused = start_refused(meeting, Starter.OPERATOR)
    if refused is not None:
        raise IllegalState(refused.message)
    client_id = _operator_client_id(meeting)
    now = clock.now()
    if not _claim_start(meeting.pk, seen=meeting.rtms_start_requested_at, now=now):
        raise IllegalState("another start of RTMS for this meeting is in flight")
    try:
        _operator_call(
            meeting, "start", client_id, actor=actor, reason=reason, source_ip=source_ip, clock=clock
        )
    except ZoomApiError as exc:
        _record_refusal(meeting.pk, exc.code, exc.message or str(exc), now)
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


def rtms_stop_manual(
    meeting: Meeting, *, actor: str, reason: str, source_ip: str | None, clock: Clock = SYSTEM_CLOCK
) -> None:
    """Ask Zoom to stop RTMS for a live meeting, and make sure nothing restarts it behind the operator."""
    meeting = Meeting.objects.select_related("account", "region").get(pk=meeting.pk)
    if meeting.state != MeetingState.LIVE:
        raise IllegalState("the meeting has ended; there is no stream to stop")
    client_id = _operator_client_id(meeting)
    # The marker first: if Zoom's stop event is lost, or the call fails, the decision still holds.
    marked = Meeting.objects.filter(pk=meeting.pk, state=MeetingState.LIVE).update(
        rtms_manual_stop_at=clock.now()
    )
    if not marked:
        raise IllegalState("the meeting has ended; there is no stream to stop")
    _operator_call(meeting, "stop", client_id, actor=actor, reason=reason, source_ip=source_ip, clock=clock)


# --- the reconciler ---------------------------------------------------------------------------------------
def rtms_restart(
    meeting_pk: int,
    *,
    stop_first: bool,
    seen_start_requested_at: datetime | None,
    api: ZoomApi,
    clock: Clock = SYSTEM_CLOCK,
    checked: StartCheck | None = None,
) -> str:
    """Ask Zoom for a (new) stream. Transient Zoom trouble raises (the run is retried later); refusals
    are recorded on the meeting, where the plan's back-off and the admin see them. ``checked`` is the
    meeting and its facts read in bulk for a run (``start_checks``); without it they are read now."""
    now = clock.now()
    if checked is None:
        meeting = Meeting.objects.select_related("account").get(pk=meeting_pk)
        facts = start_facts(meeting)
    else:
        meeting, facts = checked.meeting, checked.facts
    if meeting.account is None or meeting.zoom_meeting_id is None:
        return "not_startable"
    # The plan held these already; checked again because the meeting may have changed since it looked.
    refused = start_refusal(facts, Starter.RECONCILER)
    if refused is not None:
        return "not_startable" if refused.refusal is Refusal.NOT_LIVE else refused.refusal.value
    client_id = rtms_app_credentials(meeting.account).client_id
    # Compared with what the plan saw, not with what is there now: if ingest (or anyone) claimed a start
    # since the observation, theirs stands and ours is dropped.
    claimed = _claim_start(
        meeting_pk,
        seen=seen_start_requested_at,
        now=now,
        checked=checked,
        restart_attempts=F("restart_attempts") + 1,
        last_restart_at=now,
    )
    if not claimed:
        return "start_in_flight"
    stopped = False
    if stop_first:
        # Recorded before asking: Zoom's rtms_stopped for it may arrive before the call returns.
        Meeting.objects.filter(pk=meeting_pk).update(rtms_self_stop_at=clock.now())
        try:
            _zoom_call(api, meeting, client_id, "stop")
            stopped = True
        except (ZoomUnavailable, ZoomRateLimited):
            raise
        except ZoomApiError:
            pass  # nothing to stop: the stream we never saw does not exist either
    try:
        started = _start_or_replace(api, meeting, client_id, clock, stopped=stopped)
    except (ZoomUnavailable, ZoomRateLimited):
        raise
    except ZoomApiError as exc:
        _record_refusal(meeting_pk, exc.code, exc.message or str(exc), now)
        return "refused"
    if not started:
        # Zoom stops a stream in its own time, and refuses a start while the old one still runs:
        # expected, not a refusal to back off from. The next run starts it (issue #18).
        logger.info("rtms.restart_after_stop", extra={"meeting_id": meeting_pk})
        return "stop_requested"
    Meeting.objects.filter(pk=meeting_pk).update(
        rtms_start_called_at=now, rtms_start_error_code=None, rtms_start_error="", rtms_start_error_at=None
    )
    return "started"
