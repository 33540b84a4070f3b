"""Which region owns a meeting: ordered residency rules against what we know of the meeting. Pure.

Staff rules come first, in position order. Rules an API client manages for its own regions (``Tier.CLIENT``)
are tried only when no staff rule decides, and none of them outranks another region's: when client rules
of different regions all match, nobody decides but a person (quarantine). So a client can route only
meetings nobody else claims, only into its own regions (issue #20).

A rule whose field we do not know (a tracking field that ``meeting.started`` does not carry, a host id that
``/metrics/meetings`` does not return) is *undecided*: the caller must fetch the fact and ask again, or
quarantine. Falling through to a lower rule instead would route a meeting by a rule that was never meant
to decide it, and an EU meeting could land in another jurisdiction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Tier(StrEnum):
    STAFF = "staff"
    CLIENT = "client"


class Field(StrEnum):
    ACCOUNT_ID = "account_id"
    HOST_ID = "host_id"
    HOST_EMAIL_DOMAIN = "host_email_domain"
    MEETING_ID = "meeting_id"
    TRACKING_FIELD = "tracking_field"


@dataclass(frozen=True)
class Rule:
    position: int
    field: Field
    value: str
    region_code: str
    tracking_field_name: str = ""
    tier: Tier = Tier.STAFF


@dataclass(frozen=True)
class MeetingFacts:
    """What we know. ``None`` means unknown, which is not the same as empty."""

    account_id: str | None = None
    host_id: str | None = None
    host_email: str | None = None
    meeting_id: int | None = None
    # tracking field name (lower-cased) -> value; None when the source did not carry tracking fields
    tracking_fields: Mapping[str, str] | None = None

    def merged(self, other: MeetingFacts) -> MeetingFacts:
        """Our facts, with the gaps filled from ``other``."""
        return MeetingFacts(
            account_id=self.account_id if self.account_id is not None else other.account_id,
            host_id=self.host_id if self.host_id is not None else other.host_id,
            host_email=self.host_email if self.host_email is not None else other.host_email,
            meeting_id=self.meeting_id if self.meeting_id is not None else other.meeting_id,
            tracking_fields=self.tracking_fields
            if self.tracking_fields is not None
            else other.tracking_fields,
        )


@dataclass(frozen=True)
class Routed:
    region_code: str
    rule_position: int
    tier: Tier = Tier.STAFF


@dataclass(frozen=True)
class Undecided:
    missing: Field
    rule_position: int
    tracking_field_name: str = ""
    tier: Tier = Tier.STAFF


@dataclass(frozen=True)
class Quarantined:
    # Set when client rules of several regions claimed the meeting (their region codes, sorted).
    contested_by: tuple[str, ...] = ()


Decision = Routed | Undecided | Quarantined


def email_domain(email: str) -> str | None:
    local, at, domain = email.strip().rpartition("@")
    if not at or not local or not domain:
        return None
    return domain.lower()


def _matches(rule: Rule, facts: MeetingFacts) -> bool | None:
    """True/False, or None when the fact the rule needs is unknown."""
    value = rule.value.strip()
    match rule.field:
        case Field.ACCOUNT_ID:
            return None if facts.account_id is None else facts.account_id == value
        case Field.HOST_ID:
            return None if facts.host_id is None else facts.host_id == value
        case Field.HOST_EMAIL_DOMAIN:
            if facts.host_email is None:
                return None
            # Exact domain: "eu.example.com" does not match "x.eu.example.com"; add a rule per domain.
            return email_domain(facts.host_email) == value.lower().lstrip("@")
        case Field.MEETING_ID:
            if facts.meeting_id is None:
                return None
            return value.replace(" ", "").isdigit() and facts.meeting_id == int(value.replace(" ", ""))
        case Field.TRACKING_FIELD:
            if facts.tracking_fields is None:
                return None
            found = facts.tracking_fields.get(rule.tracking_field_name.strip().lower())
            return found is not None and found.strip() == value
    return False  # pragma: no cover - every Field is handled above


def decide(rules: Sequence[Rule], facts: MeetingFacts) -> Decision:
    for rule in sorted((r for r in rules if r.tier is Tier.STAFF), key=lambda r: r.position):
        matched = _matches(rule, facts)
        if matched is None:
            return _undecided(rule)
        if matched:
            return Routed(region_code=rule.region_code, rule_position=rule.position)
    return _decide_by_client_rules([r for r in rules if r.tier is Tier.CLIENT], facts)


def _decide_by_client_rules(rules: Sequence[Rule], facts: MeetingFacts) -> Decision:
    """Every client rule is asked, not the first only: the first match must not outrank a rule of
    another region that matches too (positions are each region's own)."""
    matches: list[Rule] = []
    for rule in sorted(rules, key=lambda r: (r.position, r.region_code)):
        matched = _matches(rule, facts)
        if matched is None:
            return _undecided(rule)
        if matched:
            matches.append(rule)
    claimants = sorted({rule.region_code for rule in matches})
    if len(claimants) == 1:
        return Routed(region_code=matches[0].region_code, rule_position=matches[0].position, tier=Tier.CLIENT)
    return Quarantined(contested_by=tuple(claimants))


def _undecided(rule: Rule) -> Undecided:
    return Undecided(
        missing=rule.field,
        rule_position=rule.position,
        tracking_field_name=rule.tracking_field_name,
        tier=rule.tier,
    )
