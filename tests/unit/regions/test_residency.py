from __future__ import annotations

import pytest

from regions.residency import (
    Field,
    MeetingFacts,
    Quarantined,
    Routed,
    Rule,
    Tier,
    Undecided,
    decide,
    email_domain,
)

RULES = [
    Rule(10, Field.HOST_EMAIL_DOMAIN, "eu.example.com", "eu-central"),
    Rule(20, Field.TRACKING_FIELD, "EU", "eu-central", tracking_field_name="Residency"),
    Rule(30, Field.ACCOUNT_ID, "acc-us", "us-east"),
]


def test_the_first_matching_rule_decides() -> None:
    facts = MeetingFacts(account_id="acc-us", host_email="Anna@EU.example.com", tracking_fields={})
    assert decide(RULES, facts) == Routed("eu-central", 10)


def test_a_rule_whose_fact_is_unknown_is_undecided_not_a_miss() -> None:
    facts = MeetingFacts(account_id="acc-us", host_email="bob@us.example.com")  # tracking fields unknown
    assert decide(RULES, facts) == Undecided(Field.TRACKING_FIELD, 20, "Residency")


def test_known_absence_of_a_tracking_field_falls_through() -> None:
    facts = MeetingFacts(account_id="acc-us", host_email="bob@us.example.com", tracking_fields={"other": "x"})
    assert decide(RULES, facts) == Routed("us-east", 30)


def test_tracking_field_names_compare_case_insensitively_values_exactly() -> None:
    facts = MeetingFacts(host_email="x@y.z", tracking_fields={"residency": "EU"})
    assert decide(RULES, facts) == Routed("eu-central", 20)
    facts = MeetingFacts(host_email="x@y.z", account_id="a", tracking_fields={"residency": "eu"})
    assert decide(RULES, facts) == Quarantined()


def test_no_match_is_quarantine() -> None:
    facts = MeetingFacts(account_id="other", host_email="c@elsewhere.org", tracking_fields={})
    assert decide(RULES, facts) == Quarantined()


def test_rules_are_applied_in_position_order_whatever_the_input_order() -> None:
    rules = [Rule(2, Field.MEETING_ID, "123", "us-east"), Rule(1, Field.MEETING_ID, "1 2 3", "eu-central")]
    assert decide(rules, MeetingFacts(meeting_id=123)) == Routed("eu-central", 1)


@pytest.mark.parametrize(
    ("field", "value", "facts", "expected"),
    [
        (Field.HOST_ID, "h1", MeetingFacts(host_id="h1"), True),
        (Field.HOST_ID, "h1", MeetingFacts(host_id="H1"), False),
        (Field.HOST_ID, "h1", MeetingFacts(), None),
        (Field.MEETING_ID, "not-a-number", MeetingFacts(meeting_id=5), False),
        (Field.HOST_EMAIL_DOMAIN, "@eu.example.com", MeetingFacts(host_email="a@eu.example.com"), True),
        (Field.HOST_EMAIL_DOMAIN, "eu.example.com", MeetingFacts(host_email="a@x.eu.example.com"), False),
        (Field.HOST_EMAIL_DOMAIN, "eu.example.com", MeetingFacts(host_email="not-an-email"), False),
    ],
)
def test_each_field_matches_as_documented(
    field: Field, value: str, facts: MeetingFacts, expected: bool | None
) -> None:
    decision = decide([Rule(1, field, value, "r")], facts)
    if expected is None:
        assert isinstance(decision, Undecided)
    elif expected:
        assert decision == Routed("r", 1)
    else:
        assert decision == Quarantined()


def test_merged_facts_fill_only_the_gaps() -> None:
    ours = MeetingFacts(account_id="a", host_email=None)
    theirs = MeetingFacts(account_id="b", host_email="x@y.z", tracking_fields={})
    assert ours.merged(theirs) == MeetingFacts(account_id="a", host_email="x@y.z", tracking_fields={})


@pytest.mark.parametrize(
    ("email", "domain"), [("a@B.com", "b.com"), ("a@b@c.com", "c.com"), ("@x.com", None), ("x", None)]
)
def test_email_domain(email: str, domain: str | None) -> None:
    assert email_domain(email) == domain


def test_client_rules_come_after_every_staff_rule() -> None:
    rules = [
        Rule(1, Field.HOST_EMAIL_DOMAIN, "us.example.com", "eu-central", tier=Tier.CLIENT),
        Rule(50, Field.HOST_EMAIL_DOMAIN, "us.example.com", "us-east"),
    ]
    assert decide(rules, MeetingFacts(host_email="bob@us.example.com")) == Routed("us-east", 50)


def test_a_client_rule_decides_what_no_staff_rule_claims() -> None:
    rules = [
        Rule(50, Field.HOST_EMAIL_DOMAIN, "us.example.com", "us-east"),
        Rule(1, Field.HOST_EMAIL_DOMAIN, "eu.example.com", "eu-central", tier=Tier.CLIENT),
        Rule(2, Field.HOST_EMAIL_DOMAIN, "eu.example.com", "eu-central", tier=Tier.CLIENT),
    ]
    facts = MeetingFacts(host_email="anna@eu.example.com")
    assert decide(rules, facts) == Routed("eu-central", 1, tier=Tier.CLIENT)


def test_client_rules_of_two_regions_that_both_match_decide_nothing() -> None:
    rules = [
        Rule(1, Field.HOST_EMAIL_DOMAIN, "shared.example.com", "eu-central", tier=Tier.CLIENT),
        Rule(9, Field.HOST_EMAIL_DOMAIN, "shared.example.com", "us-east", tier=Tier.CLIENT),
    ]
    decision = decide(rules, MeetingFacts(host_email="x@shared.example.com"))
    assert decision == Quarantined(contested_by=("eu-central", "us-east"))


def test_an_unknown_fact_of_a_client_rule_is_undecided() -> None:
    rules = [Rule(3, Field.HOST_ID, "h1", "eu-central", tier=Tier.CLIENT)]
    assert decide(rules, MeetingFacts(host_email="x@y.z")) == Undecided(Field.HOST_ID, 3, tier=Tier.CLIENT)
