"""Missed starts in bulk: the meetings a run finds live in Zoom and unknown here, created and routed with a
few statements for the whole run instead of a handful for each meeting.

The live list carries each host's e-mail, so the residency rules usually decide without asking Zoom. Those
meetings are inserted together (a row an event created meanwhile is kept as it is), read back in one
query, and looked up in one query for an ``rtms_started`` waiting in the inbox. Anything else (a rule that
needs a lookup, a row that is not the one we would have made, such as a quarantined meeting to upgrade)
goes the one-by-one way, ``meeting_ensure``, as before. Measured in bench/recovery.py (docs/benchmarks.md):
one by one, creating and starting a missed meeting took about 16 statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet

from reconciler.core import Action, Kind
from regions.residency import MeetingFacts
from rtms.inbox.route import new_meeting_fields
from rtms.models import InboundEvent, InboxStatus, Meeting, ZoomAccount
from rtms.residency import RoutingOutcome, RulesSnapshot, route_from_facts

# What a bulk-created meeting's repair comes to without a start call (the one-by-one path's words).
QUARANTINED = "quarantined"
# Zoom started a stream whose rtms_started waits in the inbox for routing, now done: it is applied and
# connected; a start now would only meet that stream. The next run starts RTMS if no stream comes of it.
START_EVENT_WAITING = "start_event_waiting"


@dataclass
class Created:
    to_start: dict[Action, int] = field(default_factory=dict)  # the meeting's pk
    settled: dict[Action, str] = field(default_factory=dict)  # QUARANTINED or START_EVENT_WAITING
    one_by_one: list[Action] = field(default_factory=list)


def waiting_rtms_started(*statuses: InboxStatus) -> QuerySet[InboundEvent]:
    """rtms_started events in the inbox with one of ``statuses``: streams announced but not yet stored."""
    return InboundEvent.objects.filter(status__in=statuses, event_type="meeting.rtms_started")


def waiting_start_events(uuids: Sequence[str]) -> set[str]:
    """Meetings among ``uuids`` with an rtms_started not applied yet (pending, or held in quarantine)."""
    waiting = waiting_rtms_started(InboxStatus.PENDING, InboxStatus.QUARANTINED)
    return set(waiting.filter(meeting_uuid__in=list(uuids)).values_list("meeting_uuid", flat=True))


def create_missed(
    actions: Sequence[Action], account: ZoomAccount, snapshot: RulesSnapshot, now: datetime
) -> Created:
    created = Created()
    decided: dict[Action, RoutingOutcome] = {}
    for action in actions:
        assert action.kind is Kind.CREATE_AND_START
        facts = MeetingFacts(
            account_id=account.zoom_account_id, meeting_id=action.meeting_id, host_email=action.host_email
        )
        outcome = route_from_facts(facts, account=account, snapshot=snapshot)
        if outcome is None:
            created.one_by_one.append(action)
        else:
            decided[action] = outcome
    if not decided:
        return created
    Meeting.objects.bulk_create(
        [
            Meeting(zoom_uuid=a.meeting_uuid, **new_meeting_fields(account, outcome, started_at=now))
            for a, outcome in decided.items()
        ],
        ignore_conflicts=True,  # a meeting an event created meanwhile keeps its row (checked below)
    )
    uuids = [a.meeting_uuid for a in decided]
    rows = {m.zoom_uuid: m for m in Meeting.objects.filter(zoom_uuid__in=uuids)}
    Meeting.objects.filter(zoom_uuid__in=uuids).update(last_seen_live_at=now)
    waiting = waiting_start_events(uuids)
    for action, outcome in decided.items():
        meeting = rows.get(action.meeting_uuid)
        region_pk = outcome.region.pk if outcome.region is not None else None
        if meeting is None or meeting.region_id != region_pk:
            created.one_by_one.append(action)  # not the row we would have made: the careful way
        elif region_pk is None:
            created.settled[action] = QUARANTINED
        elif action.meeting_uuid in waiting:
            created.settled[action] = START_EVENT_WAITING
        else:
            created.to_start[action] = meeting.pk
    return created
