"""Applying a reconciliation plan for one account: every action idempotent, every repair recorded."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import F, Min

from controlplane.clock import SYSTEM_CLOCK, Clock
from reconciler.core import (
    Action,
    Kind,
    KnownMeeting,
    KnownStream,
    Observation,
    Policy,
    plan,
    plan_kinds,
)
from reconciler.creates import (
    QUARANTINED,
    START_EVENT_WAITING,
    Created,
    create_missed,
    waiting_rtms_started,
    waiting_start_events,
)
from reconciler.models import ReconcileRun, RunStatus
from reconciler.observe import BUDGET_UNAVAILABLE, Observed, PastObserved, observe_live, observe_past
from reconciler.threads import apply_each
from regions.residency import MeetingFacts
from rtms.capture import StartCheck, rtms_restart, start_checks
from rtms.inbox.route import meeting_ensure
from rtms.lifecycle import STREAM_ACTIVE, MeetingState, StreamState
from rtms.models import AccountMode, AuditLog, InboxStatus, Meeting, ZoomAccount
from rtms.residency import ApiFactory, RulesSnapshot, route_meeting, rules_snapshot
from rtms.services import audit_row, meeting_transition, stream_transition
from rtms.zoom.api import ZoomApi, ZoomApiError
from rtms.zoom.protocol import StopReason

logger = logging.getLogger(__name__)
# After this many consecutive absences Zoom's past list is no longer waited for: the meeting ended.
MISSING_TO_END_UNCONFIRMED = 4
RECORDED_KINDS = frozenset(
    {Kind.CREATE_AND_START, Kind.ROUTE, Kind.START_RTMS, Kind.CONFIRM_ENDED, Kind.FLAG}
)


def _policy() -> Policy:
    return Policy(
        restart_backoff=settings.RECONCILE_RESTART_BACKOFF,
        error_backoff=settings.RECONCILE_ERROR_BACKOFF,
        max_restarts=settings.RECONCILE_MAX_RESTARTS,
        restart_backoff_first=settings.RECONCILE_INTERVAL,
        own_start_window=settings.RTMS_START_REPLACES_WINDOW,
        start_event_window=settings.RTMS_START_EVENT_WINDOW,
    )


def known_live(account: ZoomAccount) -> tuple[KnownMeeting, ...]:
    meetings = Meeting.objects.filter(account=account, state=MeetingState.LIVE).prefetch_related("streams")
    erased = set(meetings.filter(erasure__isnull=False).values_list("pk", flat=True))
    # rtms_started events not yet applied (a busy worker): their streams are late, not lost.
    pending_starts = set(waiting_rtms_started(InboxStatus.PENDING).values_list("meeting_uuid", flat=True))
    return tuple(
        KnownMeeting(
            pk=m.pk,
            uuid=m.zoom_uuid,
            routed=m.region_id is not None,
            streams=tuple(
                KnownStream(s.state, s.stop_reason, s.created_at, s.state_changed_at) for s in m.streams.all()
            ),
            missing_observations=m.missing_observations,
            restart_attempts=m.restart_attempts,
            last_restart_at=m.last_restart_at,
            start_called=m.rtms_start_called_at is not None,
            start_called_at=m.rtms_start_called_at,
            start_requested_at=m.rtms_start_requested_at,
            start_error_code=m.rtms_start_error_code,
            start_error_at=m.rtms_start_error_at,
            stopped_manually=m.rtms_manual_stop_at is not None,
            erased=m.pk in erased,
            start_event_pending=m.zoom_uuid in pending_starts,
            self_stop_at=m.rtms_self_stop_at,
        )
        for m in meetings
    )


def _end(meeting_pk: int, clock: Clock) -> None:
    meeting_transition(meeting_pk, MeetingState.ENDED, cause="reconciler.ended", clock=clock)
    meeting = Meeting.objects.get(pk=meeting_pk)
    for stream_id in meeting.streams.filter(state__in=list(STREAM_ACTIVE)).values_list("pk", flat=True):
        stream_transition(
            stream_id,
            StreamState.STOPPED,
            cause="reconciler.ended",
            stop_reason=int(StopReason.MEETING_ENDED),
            clock=clock,
        )


class _PastListing:
    """``type=past``, read at most once per run and only if some meeting needs its end confirmed."""

    def __init__(self, api: ZoomApi, account: ZoomAccount, now: datetime) -> None:
        self._api, self._account, self._now = api, account, now
        self._observed: PastObserved | None = None

    def confirms(self, uuid: str) -> bool | None:
        if self._observed is None:
            # From the earliest start among the account's live meetings: a long one must be found too.
            earliest = Meeting.objects.filter(account=self._account, state=MeetingState.LIVE).aggregate(
                at=Min("started_at")
            )["at"]
            since = earliest.date() if earliest is not None else None
            self._observed = observe_past(self._api, self._account.zoom_account_id, self._now, since)
        if self._observed.uuids is None:
            return None
        return uuid in self._observed.uuids

    @property
    def api_calls(self) -> int:
        return self._observed.api_calls if self._observed else 0


@dataclass(frozen=True)
class _RunContext:
    """What a run reads once for all its repairs, instead of once per repair."""

    account: ZoomAccount
    api_factory: ApiFactory
    past: _PastListing
    clock: Clock
    snapshot: RulesSnapshot
    created: Created  # the missed meetings created in bulk
    checks: dict[int, StartCheck]  # start facts of every meeting the run may start, read in bulk


def _start(action: Action, meeting_pk: int, stop_first: bool, api: ZoomApi, ctx: _RunContext) -> str:
    return rtms_restart(
        meeting_pk,
        stop_first=stop_first,
        seen_start_requested_at=action.seen_start_requested_at,
        api=api,
        clock=ctx.clock,
        checked=ctx.checks.get(meeting_pk),
    )


def _create_one(action: Action, api: ZoomApi, ctx: _RunContext) -> str:
    """A missed meeting the bulk creation left to the careful way (a lookup, a row not fresh)."""
    account, now = ctx.account, ctx.clock.now()
    facts = MeetingFacts(
        account_id=account.zoom_account_id, meeting_id=action.meeting_id, host_email=action.host_email
    )
    outcome = route_meeting(facts, account=account, api_factory=ctx.api_factory, snapshot=ctx.snapshot)
    meeting = meeting_ensure(action.meeting_uuid, account, outcome, started_at=now)
    Meeting.objects.filter(pk=meeting.pk).update(last_seen_live_at=now)
    if meeting.region_id is None:
        return QUARANTINED
    if waiting_start_events([action.meeting_uuid]):
        return START_EVENT_WAITING
    # An auto-start account may hold a stream whose rtms_started we lost: stop it, then start.
    return rtms_restart(
        meeting.pk,
        stop_first=account.mode == AccountMode.AUTO_START,
        seen_start_requested_at=None,
        api=api,
        clock=ctx.clock,
    )


def _apply(action: Action, api: ZoomApi, ctx: _RunContext) -> str:
    account, now = ctx.account, ctx.clock.now()
    if action.kind is Kind.CREATE_AND_START:
        if action in ctx.created.settled:
            return ctx.created.settled[action]
        if action in ctx.created.to_start:
            # An auto-start account may hold a stream whose rtms_started we lost: stop it, then start.
            stop_first = account.mode == AccountMode.AUTO_START
            return _start(action, ctx.created.to_start[action], stop_first, api, ctx)
        return _create_one(action, api, ctx)
    if action.kind is Kind.ROUTE:
        facts = MeetingFacts(
            account_id=account.zoom_account_id, meeting_id=action.meeting_id, host_email=action.host_email
        )
        # meeting_ensure upgrades a quarantined meeting and sends its quarantined events back through
        # routing; the next run starts RTMS if no stream comes of them.
        outcome = route_meeting(facts, account=account, api_factory=ctx.api_factory, snapshot=ctx.snapshot)
        meeting = meeting_ensure(action.meeting_uuid, account, outcome)
        return "routed" if meeting.region_id is not None else QUARANTINED
    pk = action.meeting_pk
    if pk is None:
        return "held"
    if action.kind is Kind.MARK_SEEN:
        Meeting.objects.filter(pk=pk).update(missing_observations=0, last_seen_live_at=now)
        return "seen"
    if action.kind is Kind.MARK_MISSING:
        Meeting.objects.filter(pk=pk).update(missing_observations=F("missing_observations") + 1)
        return "missing"
    if action.kind is Kind.CONFIRM_ENDED:
        confirmed = ctx.past.confirms(action.meeting_uuid)
        missing = Meeting.objects.get(pk=pk).missing_observations + 1
        if confirmed or (confirmed is False and missing >= MISSING_TO_END_UNCONFIRMED):
            _end(pk, ctx.clock)
            return "ended"
        Meeting.objects.filter(pk=pk).update(missing_observations=missing)
        return "unconfirmed"
    if action.kind is Kind.FLAG:
        Meeting.objects.filter(pk=pk).update(rtms_start_error=action.reason[:255])
        return "flagged"
    if action.kind is Kind.START_RTMS:
        return _start(action, pk, action.stop_first, api, ctx)
    return "held"


RUN_SOFT_TIME_LIMIT_S = 100  # reconciler/tasks.py reconcile_account_task's soft_time_limit

# Cheap, database-only actions: always applied, so the missing-observation counts stay exact.
BOOKKEEPING_KINDS = frozenset({Kind.MARK_SEEN, Kind.MARK_MISSING, Kind.HOLD})
# Repairs that call Zoom for one meeting each, independent of one another: applied on threads.
PARALLEL_KINDS = frozenset({Kind.CREATE_AND_START, Kind.ROUTE, Kind.START_RTMS})


def run_time_box() -> float:
    """Seconds a run may spend applying repairs: half its lease, and well under the task's soft limit."""
    lease_s: float = settings.RECONCILE_LEASE_TTL.total_seconds()
    return min(lease_s / 2, RUN_SOFT_TIME_LIMIT_S * 0.6)


@dataclass(frozen=True)
class Outcome:
    action: Action
    result: str = ""
    error: str = ""


class _Applier:
    """Applies one action and keeps its audit row for the end of the run (one insert for them all); one
    Zoom client per thread (a requests session is not meant to be shared between threads)."""

    def __init__(self, run: ReconcileRun, ctx: _RunContext, api: ZoomApi) -> None:
        self._run, self._ctx = run, ctx
        self._local = threading.local()
        self._local.api = api  # the run's own client serves the actions applied on this thread
        self._audit: list[AuditLog] = []
        self._audit_lock = threading.Lock()

    def _api(self) -> ZoomApi:
        api: ZoomApi | None = getattr(self._local, "api", None)
        if api is None:
            api = self._local.api = self._ctx.api_factory(self._ctx.account)
        return api

    def __call__(self, action: Action) -> Outcome:
        try:
            result = _apply(action, self._api(), self._ctx)
        except ZoomApiError as exc:  # one meeting's trouble must not stop the others
            which = action.meeting_pk or action.meeting_uuid[:8]
            return Outcome(action, error=f"{action.kind.value} {which}: {type(exc).__name__}")
        if action.kind in RECORDED_KINDS:
            meeting_pk = action.meeting_pk or self._ctx.created.to_start.get(action) or ""
            row = audit_row(
                actor="system:reconciler",
                action=f"reconcile.{action.kind.value}",
                object_type="meeting",
                object_id=meeting_pk,
                detail={"result": result, "reason": action.reason, "run": self._run.pk},
                clock=self._ctx.clock,
            )
            with self._audit_lock:
                self._audit.append(row)
        return Outcome(action, result=result)

    def write_audit(self) -> None:
        with self._audit_lock:
            rows, self._audit = self._audit, []
        AuditLog.objects.bulk_create(rows)


def meetings_adopt(account: ZoomAccount, live_uuids: list[str]) -> int:
    """Meetings stored with no account (their events named none, and no one account vouched for them:
    issue #20) that Zoom lists live for ``account`` are its: Zoom's own list says so. Never a default."""
    adopted = 0
    for start in range(0, len(live_uuids), 1000):
        chunk = live_uuids[start : start + 1000]
        adopted += Meeting.objects.filter(account__isnull=True, zoom_uuid__in=chunk).update(account=account)
    if adopted:
        logger.info(
            "reconcile.meetings_adopted", extra={"account": account.zoom_account_id, "count": adopted}
        )
    return adopted


def _finish_delayed(run: ReconcileRun, observed: Observed, clock: Clock) -> ReconcileRun:
    ReconcileRun.objects.filter(pk=run.pk).update(
        finished_at=clock.now(),
        status=RunStatus.PARTIAL,
        pages=observed.pages,
        api_calls=observed.api_calls,
        meetings_seen=len(observed.live),
        errors=[observed.error],
    )
    run.refresh_from_db()
    logger.warning("reconcile.delayed", extra={"run_id": run.pk, "account": run.account.zoom_account_id})
    return run


def reconcile_account(
    account: ZoomAccount, *, trigger: str, api_factory: ApiFactory, clock: Clock = SYSTEM_CLOCK
) -> ReconcileRun:
    now = clock.now()
    run = ReconcileRun.objects.create(account=account, started_at=now, trigger=trigger[:32])
    api = api_factory(account)
    # Time-boxed well inside the run's lease and the task's time limit: a run that overstayed its lease
    # would overlap the next one, and one cut off by the time limit would leave its row unfinished. The
    # first half may wait for the call budget between pages; what the second half cannot apply is planned
    # again by the next run (level-triggered), minus what this one already repaired.
    box = run_time_box()
    started = time.monotonic()
    observed = observe_live(api, account.zoom_account_id, now, wait_until=started + box / 2)
    if observed.error == BUDGET_UNAVAILABLE:
        # Without the shared budget nothing may call Zoom (nor pace its status calls): the run is put off
        # to the next one, whatever it had observed.
        return _finish_delayed(run, observed, clock)
    meetings_adopt(account, [live.uuid for live in observed.live])
    the_plan = plan(Observation(observed.complete, observed.live, known_live(account)), now, _policy())
    snapshot = rules_snapshot()
    created = create_missed(the_plan.of(Kind.CREATE_AND_START), account, snapshot, now)
    to_check = [
        *created.to_start.values(),
        *(a.meeting_pk for a in the_plan.of(Kind.START_RTMS) if a.meeting_pk),
    ]
    ctx = _RunContext(
        account=account,
        api_factory=api_factory,
        past=_PastListing(api, account, now),
        clock=clock,
        snapshot=snapshot,
        created=created,
        checks=start_checks(to_check),
    )
    applier = _Applier(run, ctx, api)
    deadline = started + box
    # Bookkeeping and end confirmations first, here (cheap, and one past listing serves them all); then the
    # repairs that call Zoom, on threads.
    serial = [a for a in the_plan.actions if a.kind not in PARALLEL_KINDS]
    try:
        done = [applier(a) for a in serial if a.kind in BOOKKEEPING_KINDS or time.monotonic() <= deadline]
        deferred = len(serial) - len(done)
        repairs = apply_each(
            [a for a in the_plan.actions if a.kind in PARALLEL_KINDS],
            applier,
            threads=settings.RECONCILE_REPAIR_THREADS,
            deadline=deadline,
        )
    finally:
        applier.write_audit()  # what was done is recorded, even if a repair raised
    done += repairs.results
    deferred += repairs.deferred
    errors: list[str] = [observed.error] if observed.error else []
    errors += [o.error for o in done if o.error]
    outcomes = Counter(f"{o.action.kind.value}:{o.result}" for o in done if not o.error)
    ReconcileRun.objects.filter(pk=run.pk).update(
        finished_at=clock.now(),
        status=RunStatus.SUCCEEDED if observed.complete and not errors else RunStatus.PARTIAL,
        pages=observed.pages,
        api_calls=observed.api_calls + ctx.past.api_calls,
        meetings_seen=len(observed.live),
        repairs={**plan_kinds(the_plan.actions), **outcomes, **({"deferred": deferred} if deferred else {})},
        errors=errors[:50],
    )
    run.refresh_from_db()
    logger.info(
        "reconcile.finished",
        extra={"run_id": run.pk, "account": account.zoom_account_id, "status": run.status},
    )
    return run
