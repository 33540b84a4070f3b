"""The reconciliation plan: pure, level-triggered, idempotent (a Kubernetes-style controller).

``plan(observation, now, policy)`` compares what Zoom says is live with what we store and returns the
repairs. It never ends a meeting on one missing observation, never restarts a stream someone chose to
stop, and never acts on an incomplete observation except to do nothing. Services apply the actions
(reconciler/services.py); every action is safe to apply twice.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rtms.lifecycle import STREAM_ACTIVE, StreamState
from rtms.start_guard import Starter, StartFacts, start_refusal, stopped_by_us
from rtms.zoom.stop_policy import StopPolicy, stop_policy

# Zoom refusals that only a person can fix (zoom-protocol.md §6.2); retried with a long back-off.
REFUSAL_CODES = frozenset({2308, 2310})


@dataclass(frozen=True)
class LiveMeeting:
    """One meeting from ``GET /metrics/meetings?type=live``."""

    uuid: str
    meeting_id: int
    host_email: str | None = None


@dataclass(frozen=True)
class KnownStream:
    state: str
    stop_reason: int | None
    created_at: datetime
    changed_at: datetime | None = None  # its last state change (for a stopped stream: when it stopped)


@dataclass(frozen=True)
class KnownMeeting:
    pk: int
    uuid: str
    routed: bool  # False: quarantined (no region decided)
    streams: tuple[KnownStream, ...] = ()
    missing_observations: int = 0  # consecutive complete observations that did not list it
    restart_attempts: int = 0
    last_restart_at: datetime | None = None
    start_called: bool = False  # we asked Zoom to start RTMS at least once
    start_called_at: datetime | None = None  # when we last did
    start_requested_at: datetime | None = None  # the last start claimed (by ingest or by us)
    start_error_code: int | None = None
    start_error_at: datetime | None = None
    stopped_manually: bool = False  # an operator stopped RTMS (rtms/capture.py): a decision, like consent
    erased: bool = False  # erased on request (compliance/erasure.py): capturing it again would undo that
    # An rtms_started for it waits in our inbox: its stream is late (a busy worker), not lost.
    start_event_pending: bool = False
    # When we last stopped a stream of it ourselves before restarting (stop_first): Zoom reports that stop
    # as USER_TRIGGERED, which must not be mistaken for a person's decision.
    self_stop_at: datetime | None = None


@dataclass(frozen=True)
class Observation:
    complete: bool  # every page was read; a partial observation never ends anything
    live: tuple[LiveMeeting, ...]
    known_live: tuple[KnownMeeting, ...]  # our meetings in state live


@dataclass(frozen=True)
class Policy:
    restart_backoff: timedelta  # the cap of the gap between two restarts of one meeting
    error_backoff: timedelta
    max_restarts: int
    missing_to_end: int = 2
    # The gap after the first restart; each later one doubles it, up to restart_backoff. The first restart
    # after a retryable stop waits for nothing but the next run.
    restart_backoff_first: timedelta = timedelta(0)
    # How long a start call's rtms_started may take before the start is asked for again (stop, then
    # start). None: as long as restart_backoff.
    start_event_window: timedelta | None = None
    # A USER_TRIGGERED stop this soon after our own start call is Zoom replacing the stream it met.
    own_start_window: timedelta = timedelta(0)

    def restart_gap(self, restarts_so_far: int) -> timedelta:
        if restarts_so_far <= 0:
            return timedelta(0)
        doubled: timedelta = self.restart_backoff_first * (2 ** (restarts_so_far - 1))
        return min(self.restart_backoff, doubled)


class Kind(enum.Enum):
    CREATE_AND_START = "create_and_start"  # missed start: create, route (maybe quarantine), start RTMS
    START_RTMS = "start_rtms"  # live, no healthy stream, allowed to restart
    MARK_SEEN = "mark_seen"  # listed again: reset the missing counter
    MARK_MISSING = "mark_missing"  # not listed by a complete observation: count it
    CONFIRM_ENDED = "confirm_ended"  # missing twice in a row: confirm with Zoom, then end and close
    FLAG = "flag"  # restarts exhausted: a person must look
    HOLD = "hold"  # deliberately nothing, with the reason recorded (consent, back-off, quarantine)
    ROUTE = "route"  # quarantined, listed live with its host: the rules may place it now


@dataclass(frozen=True)
class Action:
    kind: Kind
    meeting_uuid: str
    meeting_pk: int | None = None
    meeting_id: int | None = None
    stop_first: bool = False  # Zoom may hold a stream we never saw: stop it before starting
    reason: str = ""
    # The start claim as the plan saw it; a start is made only if nobody claimed one since (optimistic).
    seen_start_requested_at: datetime | None = None
    host_email: str | None = None  # from the live list: routes a missed start without asking Zoom again


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...] = field(default=())

    def of(self, kind: Kind) -> list[Action]:
        return [a for a in self.actions if a.kind is kind]


def _stopped_by_us(
    meeting: KnownMeeting, last: KnownStream | None, policy: Policy, *, counting_our_stop: bool = True
) -> bool:
    return last is not None and stopped_by_us(
        last.stop_reason,
        last.changed_at,
        meeting.self_stop_at if counting_our_stop else None,
        own_start_at=meeting.start_called_at,
        window=policy.own_start_window,
    )


def _start_facts(meeting: KnownMeeting, last: KnownStream | None, by_us: bool) -> StartFacts:
    return StartFacts(
        live=True,  # the plan only restarts meetings Zoom lists as live
        routed=meeting.routed,
        erased=meeting.erased,
        stopped_manually=meeting.stopped_manually,
        active_stream=any(s.state in STREAM_ACTIVE for s in meeting.streams),
        last_stop_reason=last.stop_reason if last else None,
        has_streams=last is not None,
        last_stopped_by_us=by_us,
    )


def _restart_decision(meeting: KnownMeeting, live: LiveMeeting, now: datetime, policy: Policy) -> Action:
    def hold(reason: str) -> Action:
        return Action(Kind.HOLD, meeting.uuid, meeting.pk, live.meeting_id, reason=reason)

    last = max(meeting.streams, key=lambda s: s.created_at) if meeting.streams else None
    facts = _start_facts(meeting, last, _stopped_by_us(meeting, last, policy))
    # The gateway failed the stream and Zoom never said why it stopped: nobody decided anything, and Zoom
    # still lists the meeting as live, so it is worth another stream (bounded by max_restarts below).
    gateway_gave_up = last is not None and last.state == StreamState.FAILED and last.stop_reason is None
    # The guards every start shares (quarantine, erasure, an operator's stop, consent), then the
    # reconciler's own caution on top.
    refused = start_refusal(facts, Starter.RECONCILER)
    if refused is not None:
        return hold(refused.message)
    if meeting.start_event_pending:
        return hold("its rtms_started is waiting in the inbox: late, not lost")
    if facts.has_streams and not facts.last_stopped_by_us and not gateway_gave_up:
        decided = stop_policy(facts.last_stop_reason)
        if decided is not StopPolicy.RESTART:
            # The meeting ended, credentials failed or the reason is unknown: restarting could capture
            # people who asked not to be captured.
            return hold(f"last stop reason {facts.last_stop_reason} is {decided.value}: never restarted")
    landed = (
        last is not None
        and meeting.start_requested_at is not None
        and (last.created_at >= meeting.start_requested_at)
    )
    recent = meeting.start_requested_at is not None and now - meeting.start_requested_at < (
        policy.start_event_window or policy.restart_backoff
    )
    if recent and not landed:
        # Its rtms_started may simply not have arrived yet: a second start now would fight the first. A
        # stream that appeared since the start was asked for means the start landed: not in flight.
        return hold("a start is in flight")
    if meeting.start_error_code in REFUSAL_CODES and meeting.start_error_at is not None:
        if now - meeting.start_error_at < policy.error_backoff:
            return hold(f"Zoom refused with {meeting.start_error_code}; waiting out the back-off")
    if meeting.restart_attempts >= policy.max_restarts:
        return Action(
            Kind.FLAG, meeting.uuid, meeting.pk, live.meeting_id, reason="restart attempts exhausted"
        )
    gap = policy.restart_gap(meeting.restart_attempts)
    if meeting.last_restart_at is not None and now - meeting.last_restart_at < gap:
        return hold("restarted recently; waiting out the back-off")
    # Zoom may still hold a stream we cannot see: one we asked for whose rtms_started never came, the one
    # our gateway gave up on, or the one that replaced the stream our start call met. A start against a
    # running stream is refused or replaces it: stop first.
    replaced = _stopped_by_us(meeting, last, policy, counting_our_stop=False)
    stop_first = (meeting.start_called and not meeting.streams) or gateway_gave_up or replaced
    return Action(
        Kind.START_RTMS,
        meeting.uuid,
        meeting.pk,
        live.meeting_id,
        stop_first=stop_first,
        reason="no healthy stream",
        seen_start_requested_at=meeting.start_requested_at,
    )


def plan(observation: Observation, now: datetime, policy: Policy) -> Plan:
    known = {m.uuid: m for m in observation.known_live}
    listed = {m.uuid: m for m in observation.live}
    actions: list[Action] = []
    for uuid, live in sorted(listed.items()):
        meeting = known.get(uuid)
        if meeting is None:
            actions.append(
                Action(
                    Kind.CREATE_AND_START,
                    uuid,
                    None,
                    live.meeting_id,
                    reason="missed start",
                    host_email=live.host_email,
                )
            )
            continue
        if meeting.missing_observations:
            actions.append(Action(Kind.MARK_SEEN, uuid, meeting.pk, live.meeting_id))
        if not meeting.routed and live.host_email:
            # Its events wait in quarantine (meeting.started lost, say); once routed they are applied.
            # Only with the host from the list: without it there is nothing new to route on.
            actions.append(
                Action(
                    Kind.ROUTE,
                    uuid,
                    meeting.pk,
                    live.meeting_id,
                    reason="quarantined: the rules may place it now",
                    host_email=live.host_email,
                )
            )
            continue
        if any(s.state in STREAM_ACTIVE for s in meeting.streams):
            continue  # healthy or being handled by a gateway; silence on a socket is not evidence
        actions.append(_restart_decision(meeting, live, now, policy))
    if observation.complete:
        for uuid, meeting in sorted(known.items()):
            if uuid in listed:
                continue
            if meeting.missing_observations + 1 >= policy.missing_to_end:
                actions.append(Action(Kind.CONFIRM_ENDED, uuid, meeting.pk, reason="absent twice in a row"))
            else:
                actions.append(Action(Kind.MARK_MISSING, uuid, meeting.pk, reason="absent once"))
    return Plan(tuple(actions))


def plan_kinds(actions: Sequence[Action]) -> dict[str, int]:
    """Counts per kind, as a ReconcileRun records them."""
    counts: dict[str, int] = {}
    for action in actions:
        counts[action.kind.value] = counts.get(action.kind.value, 0) + 1
    return counts
