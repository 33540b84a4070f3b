"""Issue #20, finding 4: a region-scoped API client's residency rules cannot affect other regions.

On the main of 2026-12-07 an EU client with ``manage_rules`` created ``us.example.com -> eu-central`` at
position 1 (201), and US hosts were then routed to the EU; the "position taken" error told it where other
regions' rules sat. Now a client's rules come after every staff rule, route only into its regions, never
outrank another region's rule, and a position conflict is about its own region's client rules only."""

from __future__ import annotations

import pytest

from regions.models import Region, ResidencyRule, RuleTier
from regions.residency import MeetingFacts, Routed
from rtms.residency import route_from_facts, rules_snapshot
from tests.integration.api_support import (  # noqa: F401  (fixtures)
    MakeApiClient,
    fresh_throttles_fixture,
    make_api_client_fixture,
    staff_client,
)
from tests.integration.conftest import EU_ALIAS

pytestmark = pytest.mark.django_db(databases=["default", EU_ALIAS])


def _rule(position: int, domain: str, region: str) -> dict[str, object]:
    return {"position": position, "field": "host_email_domain", "value": domain, "region": region}


def _created(response: object) -> bool:
    return getattr(response, "status_code", None) == 201


def _region_of(email: str) -> str | None:
    outcome = route_from_facts(MeetingFacts(host_email=email), account=None, snapshot=rules_snapshot())
    assert outcome is not None
    return outcome.region.code if outcome.region is not None else None


def test_a_client_rule_never_outranks_a_staff_rule_of_another_region(
    eu: Region, us: Region, make_api_client: MakeApiClient
) -> None:
    ResidencyRule.objects.create(position=50, field="host_email_domain", value="us.example.com", region=us)
    eu_client = make_api_client("eu-central", role="read-write", manage_rules=True)
    created = eu_client.post("/api/v1/rules/", _rule(1, "us.example.com", "eu-central"), "application/json")
    assert created.status_code == 201, created.content
    assert created.json()["tier"] == "client"
    assert _region_of("bob@us.example.com") == "us-east"


def test_client_rules_of_two_regions_claiming_one_meeting_quarantine_it(
    eu: Region, us: Region, make_api_client: MakeApiClient
) -> None:
    eu_client = make_api_client("eu-central", role="read-write", manage_rules=True)
    us_client = make_api_client("us-east", role="read-write", manage_rules=True)
    assert _created(
        eu_client.post("/api/v1/rules/", _rule(1, "x.example.com", "eu-central"), "application/json")
    )
    assert _created(
        us_client.post("/api/v1/rules/", _rule(7, "x.example.com", "us-east"), "application/json")
    )
    outcome = route_from_facts(
        MeetingFacts(host_email="amy@x.example.com"), account=None, snapshot=rules_snapshot()
    )
    assert outcome is not None and outcome.region is None
    assert "all match" in outcome.note
    # Unclaimed by anyone else, a client's rule routes into its own region.
    assert _created(
        eu_client.post("/api/v1/rules/", _rule(2, "only-eu.example.com", "eu-central"), "application/json")
    )
    assert _region_of("amy@only-eu.example.com") == "eu-central"
    routed = route_from_facts(
        MeetingFacts(host_email="a@only-eu.example.com"), account=None, snapshot=rules_snapshot()
    )
    assert routed is not None and isinstance(routed.decision, Routed)


def test_a_position_conflict_reveals_nothing_of_other_regions(
    eu: Region, us: Region, make_api_client: MakeApiClient
) -> None:
    ResidencyRule.objects.create(position=3, field="host_id", value="us-secret-host", region=us)
    us_client = make_api_client("us-east", role="read-write", manage_rules=True)
    assert _created(
        us_client.post("/api/v1/rules/", _rule(4, "us.example.com", "us-east"), "application/json")
    )
    eu_client = make_api_client("eu-central", role="read-write", manage_rules=True)
    # Positions 3 (a US staff rule) and 4 (a US client rule) are free for an EU client rule.
    for position in (3, 4):
        response = eu_client.post(
            "/api/v1/rules/", _rule(position, f"p{position}.eu", "eu-central"), "application/json"
        )
        assert response.status_code == 201, response.content
    taken = eu_client.post("/api/v1/rules/", _rule(3, "again.eu", "eu-central"), "application/json")
    assert taken.status_code == 400
    assert taken.json()["error"]["fields"]["position"] == ["another rule in this region has this position"]


def test_a_client_changes_only_its_client_rules(eu: Region, make_api_client: MakeApiClient) -> None:
    staff_rule = ResidencyRule.objects.create(
        position=5, field="host_email_domain", value="eu.example", region=eu
    )
    eu_client = make_api_client("eu-central", role="read-write", manage_rules=True)
    assert (
        eu_client.patch(f"/api/v1/rules/{staff_rule.pk}/", {"position": 999}, "application/json").status_code
        == 403
    )
    assert eu_client.delete(f"/api/v1/rules/{staff_rule.pk}/").status_code == 403
    assert ResidencyRule.objects.get(pk=staff_rule.pk).tier == RuleTier.STAFF


def test_staff_rules_through_the_api_are_a_superusers(eu: Region) -> None:
    eva = staff_client(
        "eva", "compliance-eu-central", perms=("regions.add_residencyrule", "regions.change_residencyrule")
    )
    assert eva.post("/api/v1/rules/", _rule(1, "a.eu", "eu-central"), "application/json").status_code == 403
    root = staff_client("root", superuser=True)
    created = root.post("/api/v1/rules/", _rule(1, "a.eu", "eu-central"), "application/json")
    assert created.status_code == 201 and created.json()["tier"] == "staff"
