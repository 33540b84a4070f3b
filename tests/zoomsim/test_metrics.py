"""GET /v2/metrics/meetings: validation, live/past selection, pagination, page tokens, rate limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from tests.eventually import eventually
from tests.zoomsim.conftest import ACCOUNT_ID, bearer, s2s_token, today
from zoomsim.testing import SimServer


def get(sim: SimServer, token: str, **params: Any) -> requests.Response:
    return requests.get(
        sim.base_url + "/v2/metrics/meetings", params=params, headers=bearer(token), timeout=5
    )


def test_from_and_to_are_required(sim: SimServer) -> None:
    token = s2s_token(sim.base_url)
    for params in ({}, {"from": today()}, {"to": today()}, {"from": "2026/01/01", "to": today()}):
        resp = get(sim, token, **params)
        assert resp.status_code == 400
        assert resp.json()["code"] == 300
    assert get(sim, token, **{"from": today(), "to": today(), "type": "bogus"}).json()["code"] == 300


def test_live_fields_and_no_host_id(sim: SimServer) -> None:
    m = sim.client.create_meeting(
        "dana.lee@eu.example.com",
        topic="Standup",
        rtms="none",
        tracking_fields=[{"field": "region", "value": "eu"}],
    )
    resp = get(sim, s2s_token(sim.base_url), **{"from": today(), "to": today()})
    assert resp.status_code == 200
    assert resp.headers["X-RateLimit-Category"] == "Resource-intensive"
    assert "x-zm-trackingid" in resp.headers
    body = resp.json()
    assert body["total_records"] == 1 and body["next_page_token"] == "" and body["page_size"] == 30
    (item,) = body["meetings"]
    assert item["uuid"] == m["meeting_uuid"] and item["id"] == m["meeting_id"] and isinstance(item["id"], int)
    assert item["email"] == "dana.lee@eu.example.com" and item["host"] == "Dana Lee"
    assert item["topic"] == "Standup" and item["tracking_fields"] == [{"field": "region", "value": "eu"}]
    assert "host_id" not in item and "end_time" not in item
    assert len(item["duration"].split(":")) == 3
    for flag in ("has_pstn", "has_voip", "has_video", "has_screen_share", "has_recording"):
        assert isinstance(item[flag], bool)


def test_live_matches_by_start_date_so_yesterday_needs_from_yesterday(sim: SimServer) -> None:
    yesterday_start = (datetime.now(UTC) - timedelta(days=1)).replace(hour=23, minute=30)
    m = sim.client.create_meeting(
        "erin@example.com", rtms="none", start_time=yesterday_start.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    token = s2s_token(sim.base_url)
    assert get(sim, token, **{"from": today(), "to": today()}).json()["total_records"] == 0
    y = yesterday_start.strftime("%Y-%m-%d")
    found = get(sim, token, **{"from": y, "to": today()}).json()["meetings"]
    assert [x["uuid"] for x in found] == [m["meeting_uuid"]]


def test_past_and_past_one(sim: SimServer) -> None:
    c = sim.client
    multi = c.create_meeting("f@example.com", rtms="none", participants=3)
    solo = c.create_meeting("g@example.com", rtms="none", participants=1)
    live = c.create_meeting("h@example.com", rtms="none")
    c.end_meeting(multi["meeting_uuid"])
    c.end_meeting(solo["meeting_uuid"])
    token = s2s_token(sim.base_url)
    d = {"from": today(), "to": today()}
    past = get(sim, token, type="past", **d).json()["meetings"]
    assert [x["uuid"] for x in past] == [multi["meeting_uuid"]] and "end_time" in past[0]
    assert [x["uuid"] for x in get(sim, token, type="pastOne", **d).json()["meetings"]] == [
        solo["meeting_uuid"]
    ]
    assert [x["uuid"] for x in get(sim, token, **d).json()["meetings"]] == [live["meeting_uuid"]]


def test_pagination_and_page_size_clamp(make_sim: Any) -> None:
    sim = make_sim(metrics_rate_per_minute=100)
    uuids = {sim.client.create_meeting(f"p{i}@example.com", rtms="none")["meeting_uuid"] for i in range(7)}
    token = s2s_token(sim.base_url)
    seen: list[str] = []
    page = get(sim, token, page_size=3, **{"from": today(), "to": today()}).json()
    assert page["page_count"] == 3 and page["total_records"] == 7
    seen += [m["uuid"] for m in page["meetings"]]
    while page["next_page_token"]:
        page = get(sim, token, next_page_token=page["next_page_token"]).json()
        seen += [m["uuid"] for m in page["meetings"]]
    assert len(seen) == 7 and set(seen) == uuids
    clamped = get(sim, token, page_size=1000, **{"from": today(), "to": today()}).json()
    assert clamped["page_size"] == 300 and len(clamped["meetings"]) == 7


def test_page_token_is_opaque_and_expires(make_sim: Any) -> None:
    sim = make_sim(page_token_ttl_s=10.0)  # 0.1 s real
    for i in range(3):
        sim.client.create_meeting(f"q{i}@example.com", rtms="none")
    token = s2s_token(sim.base_url)
    first = get(sim, token, page_size=1, **{"from": today(), "to": today()}).json()
    bad = get(sim, token, next_page_token="not-a-token")
    assert bad.status_code == 400 and bad.json() == {
        "code": 300,
        "message": "The next page token is invalid or expired.",
    }
    import time

    time.sleep(0.15)  # the token's scaled lifetime (0.1 s) must pass; nothing to poll for
    expired = get(sim, token, next_page_token=first["next_page_token"])
    assert expired.status_code == 400 and expired.json()["code"] == 300


def test_rate_limit_429_per_account(make_sim: Any) -> None:
    sim = make_sim(metrics_rate_per_minute=3, time_scale=1.0)
    token = s2s_token(sim.base_url)
    d = {"from": today(), "to": today()}
    statuses = [get(sim, token, **d) for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    assert statuses[2].headers["X-RateLimit-Remaining"] == "0"
    over = statuses[3]
    assert over.json() == {
        "code": 429,
        "message": "You have reached the maximum per-second rate limit for this API. Try again later.",
    }
    assert over.headers["X-RateLimit-Category"] == "Resource-intensive"
    assert over.headers["X-RateLimit-Type"] == "QPS" and over.headers["X-RateLimit-Limit"] == "3"
    calls = sim.client.ledger(kind="rest.call")
    assert [c.get("reason") for c in calls] == [None, None, None, "rate_limit"]


def test_rate_limit_window_is_scaled(make_sim: Any) -> None:
    sim = make_sim(metrics_rate_per_minute=2, time_scale=0.002)  # 60 s window -> 0.12 s
    token = s2s_token(sim.base_url)
    d = {"from": today(), "to": today()}
    assert [get(sim, token, **d).status_code for _ in range(3)] == [200, 200, 429]
    eventually(
        lambda: get(sim, token, **d).status_code == 200, timeout=3, what="the rate limit's window reopening"
    )


def test_daily_cap(make_sim: Any) -> None:
    sim = make_sim(metrics_rate_per_minute=100, metrics_daily_cap=2, time_scale=1.0)
    token = s2s_token(sim.base_url)
    d = {"from": today(), "to": today()}
    r = [get(sim, token, **d) for _ in range(3)]
    assert [x.status_code for x in r] == [200, 200, 429]
    assert r[2].headers["X-RateLimit-Type"] == "Daily-limit" and "Retry-After" in r[2].headers
    assert "daily" in r[2].json()["message"]


def test_start_dates_are_matched_in_the_accounts_time_zone(sim: SimServer) -> None:
    """UTC 23:30 yesterday is already today at UTC+14 (Kiritimati): the account's zone decides."""
    sim.client.load_scenario({"accounts": [{"account_id": ACCOUNT_ID, "timezone": "Pacific/Kiritimati"}]})
    utc_start = (datetime.now(UTC) - timedelta(days=1)).replace(hour=23, minute=30)
    m = sim.client.create_meeting(
        "erin@example.com", rtms="none", start_time=utc_start.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    token = s2s_token(sim.base_url)
    local_day = (utc_start + timedelta(hours=14)).strftime("%Y-%m-%d")  # today's UTC date
    utc_day = utc_start.strftime("%Y-%m-%d")
    found = get(sim, token, **{"from": local_day, "to": local_day}).json()["meetings"]
    assert [x["uuid"] for x in found] == [m["meeting_uuid"]]
    assert get(sim, token, **{"from": utc_day, "to": utc_day}).json()["total_records"] == 0
