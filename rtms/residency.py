"""Routing a meeting to the region that owns it: the I/O around regions/residency.py.

One function for every path (webhook, event WebSocket, reconciler), so a meeting is placed the same way
whichever channel told us about it. Facts the event does not carry are fetched from Zoom's API; what
still cannot be decided is quarantined, never guessed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from regions.models import Region, ResidencyRule
from regions.residency import (
    Decision,
    Field,
    MeetingFacts,
    Quarantined,
    Routed,
    Rule,
    Tier,
    Undecided,
    decide,
)
from rtms.models import ZoomAccount
from rtms.zoom.api import ZoomApi, ZoomApiError, ZoomRateLimited, ZoomUnavailable

logger = logging.getLogger(__name__)

# How a caller gives routing its Zoom client: tests and the reconciler pass their own.
ApiFactory = Callable[[ZoomAccount], ZoomApi]


@dataclass(frozen=True)
class RoutingOutcome:
    region: Region | None
    decision: Decision
    facts: MeetingFacts
    note: str


@dataclass(frozen=True)
class RulesSnapshot:
    """The active rules and the regions they name, read once: a reconcile run routes many meetings with
    one read instead of two queries each."""

    rules: list[Rule]
    regions: dict[str, Region]


def rules_snapshot() -> RulesSnapshot:
    rows = ResidencyRule.objects.filter(active=True, region__active=True).select_related("region")
    rules = [
        Rule(
            position=r.position,
            field=Field(r.field),
            value=r.value,
            region_code=r.region.code,
            tracking_field_name=r.tracking_field_name,
            tier=Tier(r.tier),
        )
        for r in rows
    ]
    return RulesSnapshot(rules, {r.region.code: r.region for r in rows})


def _fetch_meeting(api: ZoomApi, facts: MeetingFacts) -> MeetingFacts:
    assert facts.meeting_id is not None
    details = api.get_meeting(facts.meeting_id)
    return facts.merged(
        MeetingFacts(
            host_id=details.host_id,
            host_email=details.host_email,
            meeting_id=details.id,
            tracking_fields={name.strip().lower(): value for name, value in details.tracking_fields},
        )
    )


def _fetch_user_email(api: ZoomApi, facts: MeetingFacts) -> MeetingFacts:
    assert facts.host_id is not None
    user = api.get_user(facts.host_id)
    # An account with no e-mail is a known fact too: the domain rule then simply does not match.
    return facts.merged(MeetingFacts(host_email=user.email or ""))


def route_meeting(
    facts: MeetingFacts,
    *,
    account: ZoomAccount | None,
    api_factory: ApiFactory,
    snapshot: RulesSnapshot | None = None,
) -> RoutingOutcome:
    """Decide the owning region. Raises ZoomUnavailable/ZoomRateLimited (transient: retry the task);
    any other Zoom refusal quarantines with the reason noted. ``snapshot`` is the rules read once by a
    caller that routes many meetings; without it they are read now."""
    snapshot = snapshot or rules_snapshot()
    rules = snapshot.rules
    if account is not None and facts.account_id is None:
        facts = facts.merged(MeetingFacts(account_id=account.zoom_account_id))
    decision = decide(rules, facts)
    fetched_meeting = fetched_user = False
    note = ""
    while isinstance(decision, Undecided):
        missing = decision.missing
        try:
            if (
                account is not None
                and not fetched_meeting
                and facts.meeting_id is not None
                and missing in (Field.HOST_ID, Field.HOST_EMAIL_DOMAIN, Field.TRACKING_FIELD)
            ):
                fetched_meeting = True
                facts = _fetch_meeting(api_factory(account), facts)
            elif (
                account is not None
                and not fetched_user
                and missing == Field.HOST_EMAIL_DOMAIN
                and facts.host_id
            ):
                fetched_user = True
                facts = _fetch_user_email(api_factory(account), facts)
            else:
                break
        except (ZoomUnavailable, ZoomRateLimited):
            raise
        except ZoomApiError as exc:
            note = f"zoom lookup refused ({exc.status}{'' if exc.code is None else f'/{exc.code}'})"
            break
        decision = decide(rules, facts)

    return _outcome(decision, facts, snapshot, note)


def route_from_facts(
    facts: MeetingFacts, *, account: ZoomAccount | None, snapshot: RulesSnapshot
) -> RoutingOutcome | None:
    """The decision the facts at hand make, without asking Zoom; None when a rule needs a fact that only a
    lookup can give (then ``route_meeting`` is the way)."""
    if account is not None and facts.account_id is None:
        facts = facts.merged(MeetingFacts(account_id=account.zoom_account_id))
    decision = decide(snapshot.rules, facts)
    if isinstance(decision, Undecided):
        return None
    return _outcome(decision, facts, snapshot, "")


def _outcome(decision: Decision, facts: MeetingFacts, snapshot: RulesSnapshot, note: str) -> RoutingOutcome:
    if isinstance(decision, Routed):
        region = snapshot.regions[decision.region_code]
        return RoutingOutcome(
            region, decision, facts, f"{_rule_name(decision.tier)} #{decision.rule_position}"
        )
    if isinstance(decision, Undecided):
        rule = f"{_rule_name(decision.tier)} #{decision.rule_position}"
        note = note or f"undecided: {rule} needs {decision.missing.value}"
        return RoutingOutcome(None, Quarantined(), facts, note)
    if decision.contested_by:
        return RoutingOutcome(
            None, decision, facts, f"client rules of {', '.join(decision.contested_by)} all match"
        )
    return RoutingOutcome(None, decision, facts, "no residency rule matched")


def _rule_name(tier: Tier) -> str:
    return "rule" if tier is Tier.STAFF else "client rule"
