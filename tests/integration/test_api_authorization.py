"""Authorization matrix: caller x region x endpoint. Another region's objects are 404 and never listed."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from reconciler.models import ReconcileRun
from regions.models import Region, ResidencyRule
from rtms.models import AuditLog, ZoomAccount
from tests.integration.api_support import (  # noqa: F401  (fixtures)
    MakeApiClient,
    World,
    event,
    fresh_throttles_fixture,
    make_api_client_fixture,
    staff_client,
)
from tests.integration.conftest import EU_ALIAS

pytestmark = pytest.mark.django_db(databases=["default", EU_ALIAS])

# What each caller may see: region codes, plus "quarantine" for unrouted objects.
CALLERS: dict[str, set[str]] = {
    "eu_read": {"eu-central"},
    "eu_rw": {"eu-central"},
    "us_read": {"us-east"},
    "eu_us_read": {"eu-central", "us-east"},
    "quarantine_rw": {"quarantine"},
    "staff_eu": {"eu-central"},
    "superuser": {"eu-central", "us-east", "quarantine"},
}
WRITERS = {"eu_rw", "quarantine_rw", "superuser"}


@pytest.fixture
def callers(make_api_client: MakeApiClient, eu: Region, us: Region) -> dict[str, Client]:
    return {
        "eu_read": make_api_client("eu-central"),
        "eu_rw": make_api_client("eu-central", role="read-write"),
        "us_read": make_api_client("us-east"),
        "eu_us_read": make_api_client("eu-central", "us-east"),
        "quarantine_rw": make_api_client(role="read-write", quarantine=True),
        "staff_eu": staff_client("eva", "compliance-eu-central"),
        "superuser": staff_client("root", superuser=True),
        "anonymous": Client(),
    }


@pytest.fixture
def world(eu: Region, us: Region, make_meeting: Any, make_stream: Any) -> World:
    meetings = {
        "eu-central": make_meeting(eu, state="ended"),
        "us-east": make_meeting(us, state="ended"),
        "quarantine": make_meeting(None, state="ended"),
    }
    for meeting in meetings.values():
        if meeting.region is not None:
            make_stream(meeting, state="stopped", stop_reason=6)
    events = {
        "eu-central": event(eu, meetings["eu-central"], "processed", 1),
        "us-east": event(us, meetings["us-east"], "processed", 2),
        "quarantine": event(None, meetings["quarantine"], "quarantined", 3),
    }
    rules = {
        "eu-central": ResidencyRule.objects.create(
            position=1010, field="host_email_domain", value="eu.x", region=eu
        ),
        "us-east": ResidencyRule.objects.create(
            position=1020, field="host_email_domain", value="us.x", region=us
        ),
    }
    return World(meetings, events, rules)


DETAIL_ENDPOINTS = {
    "meeting": lambda w, r: f"/api/v1/meetings/{w.meetings[r].pk}/",
    "transcript": lambda w, r: f"/api/v1/meetings/{w.meetings[r].pk}/transcript/",
    "export": lambda w, r: f"/api/v1/meetings/{w.meetings[r].pk}/transcript/export/?format=text",
    "event": lambda w, r: f"/api/v1/events/{w.events[r].pk}/",
}
REGION_KEYS = ["eu-central", "us-east", "quarantine"]


@pytest.mark.parametrize("caller", [*CALLERS, "anonymous"])
@pytest.mark.parametrize("region", REGION_KEYS)
@pytest.mark.parametrize("endpoint", list(DETAIL_ENDPOINTS))
def test_detail_is_visible_only_within_the_callers_regions(
    callers: dict[str, Client], world: World, caller: str, region: str, endpoint: str
) -> None:
    response = callers[caller].get(DETAIL_ENDPOINTS[endpoint](world, region))
    if caller == "anonymous":
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
    elif region in CALLERS[caller]:
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize("region", ["eu-central", "us-east"])
def test_rules_and_regions_are_visible_only_within_the_callers_regions(
    callers: dict[str, Client], world: World, caller: str, region: str
) -> None:
    client = callers[caller]
    visible = region in CALLERS[caller]
    assert client.get(f"/api/v1/rules/{world.rules[region].pk}/").status_code == (200 if visible else 404)
    assert client.get(f"/api/v1/regions/{region}/").status_code == (200 if visible else 404)


@pytest.mark.parametrize("caller", list(CALLERS))
def test_lists_hold_only_the_callers_regions(callers: dict[str, Client], world: World, caller: str) -> None:
    client = callers[caller]
    allowed = CALLERS[caller]
    meetings = {m["id"] for m in client.get("/api/v1/meetings/").json()["results"]}
    assert meetings == {world.meetings[r].pk for r in REGION_KEYS if r in allowed}
    events = {e["id"] for e in client.get("/api/v1/events/").json()["results"]}
    assert events == {world.events[r].pk for r in REGION_KEYS if r in allowed}
    rules = {r["id"] for r in client.get("/api/v1/rules/").json()["results"]}
    assert rules >= {world.rules[r].pk for r in ("eu-central", "us-east") if r in allowed}
    assert not rules & {world.rules[r].pk for r in ("eu-central", "us-east") if r not in allowed}
    regions = {r["code"] for r in client.get("/api/v1/regions/").json()["results"]}
    every = set(Region.objects.values_list("code", flat=True))
    assert regions == (every if caller == "superuser" else allowed - {"quarantine"})
    if "us-east" not in allowed:
        # Filtering by a region the caller does not see yields nothing, not an error.
        assert client.get("/api/v1/meetings/?region=us-east").json()["results"] == []


@pytest.mark.parametrize("caller", [*CALLERS, "anonymous"])
@pytest.mark.parametrize("region", REGION_KEYS)
def test_actions_need_visibility_then_the_write_role(
    callers: dict[str, Client], world: World, caller: str, region: str
) -> None:
    before = AuditLog.objects.filter(action="rtms.start_manual").count()
    response = callers[caller].post(
        f"/api/v1/meetings/{world.meetings[region].pk}/rtms/start/",
        {"reason": "matrix"},
        content_type="application/json",
    )
    if caller == "anonymous":
        expected = 401
    elif region not in CALLERS[caller]:
        expected = 404
    elif caller not in WRITERS:
        expected = 403
    else:
        expected = 409  # visible and allowed, but the meeting has ended: an illegal state change
    assert response.status_code == expected, response.content
    assert set(response.json()) == {"error"}
    assert AuditLog.objects.filter(action="rtms.start_manual").count() == before  # refused: nothing recorded


@pytest.mark.parametrize("caller", list(CALLERS))
def test_reroute_needs_quarantine_access_and_write(
    callers: dict[str, Client], world: World, caller: str
) -> None:
    response = callers[caller].post(
        f"/api/v1/events/{world.events['quarantine'].pk}/reroute/",
        {"reason": "rule added"},
        "application/json",
    )
    if "quarantine" not in CALLERS[caller]:
        assert response.status_code == 404
    else:
        assert response.status_code == 202, response.content
        assert response.json()["events_requeued"] == 1
        row = AuditLog.objects.get(action="event.reroute", object_id=str(world.events["quarantine"].pk))
        assert row.detail["reason"] == "rule added"


def test_reconcile_runs_are_listed_for_their_accounts_regions_but_errors_only_for_all_region_callers(
    callers: dict[str, Client],
) -> None:
    from django.utils import timezone

    eu_account = ZoomAccount.objects.create(
        zoom_account_id="acc-matrix", default_region=Region.objects.get(code="eu-central")
    )
    us_account = ZoomAccount.objects.create(zoom_account_id="acc-us-only")
    run = ReconcileRun.objects.create(
        account=eu_account, started_at=timezone.now(), errors=["start_rtms 12: X"]
    )
    us_run = ReconcileRun.objects.create(account=us_account, started_at=timezone.now(), errors=["X"])
    limited = callers["eu_read"].get(f"/api/v1/reconcile-runs/{run.pk}/").json()
    assert limited["errors"] is None
    # An account serving none of the caller's regions is not the caller's to know of (issue #20).
    assert callers["eu_read"].get(f"/api/v1/reconcile-runs/{us_run.pk}/").status_code == 404
    full = callers["superuser"].get(f"/api/v1/reconcile-runs/{run.pk}/").json()
    assert full["errors"] == ["start_rtms 12: X"]
