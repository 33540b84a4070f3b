"""GET /v2/meetings/{meetingId} and GET /v2/users/{userId}: the lookups behind residency routing."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

from tests.zoomsim.conftest import (
    ACCOUNT_ID,
    RTMS_APP,
    Receiver,
    bearer,
    s2s_token,
    token_response,
)
from zoomsim.config import AppCreds
from zoomsim.testing import SimServer

OTHER_S2S = AppCreds("euS2sClientId", "euS2sClientSecret")
MSG_QPS = "You have reached the maximum per-second rate limit for this API. Try again later."


def get(sim: SimServer, path: str, token: str | None = None) -> requests.Response:
    token = token or s2s_token(sim.base_url)
    return requests.get(sim.base_url + path, headers=bearer(token), timeout=5)


def test_get_meeting_by_number_returns_zoom_shape_when_live(sim: SimServer) -> None:
    m = sim.client.create_meeting(
        "ann.lee@example.com",
        topic="Weekly",
        rtms="none",
        type=2,
        duration=45,
        tracking_fields=[{"field": "region", "value": "eu"}, {"field": "cost", "value": "42"}],
    )
    resp = get(sim, f"/v2/meetings/{m['meeting_id']}")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    required = {"uuid", "id", "host_id", "host_email", "topic", "type", "status", "start_time"}
    assert required | {"timezone", "duration", "created_at", "tracking_fields"} <= set(body)
    assert body["uuid"] == m["meeting_uuid"]
    assert body["id"] == m["meeting_id"] and isinstance(body["id"], int)
    view = sim.client.get_meeting(m["meeting_uuid"])
    assert body["host_id"] == view["host_id"] and body["host_email"] == "ann.lee@example.com"
    assert (body["topic"], body["type"], body["duration"]) == ("Weekly", 2, 45)
    assert body["status"] == "started" and body["start_time"] == view["start_time"]
    assert body["timezone"] == "UTC" and body["created_at"].endswith("Z")
    assert body["tracking_fields"] == [{"field": "region", "value": "eu"}, {"field": "cost", "value": "42"}]
    assert resp.headers["X-RateLimit-Category"] == "Light" and "x-zm-trackingid" in resp.headers
    (call,) = sim.client.ledger(kind="rest.call")
    assert call["path"] == f"/v2/meetings/{m['meeting_id']}" and call["status"] == 200
    assert call["meeting_uuid"] == m["meeting_uuid"] and call["account"] == ACCOUNT_ID


def test_get_meeting_status_is_waiting_when_ended_and_fields_empty_when_none(sim: SimServer) -> None:
    m = sim.client.create_meeting("bo@example.com", rtms="none")
    sim.client.end_meeting(m["meeting_uuid"])
    body = get(sim, f"/v2/meetings/{m['meeting_id']}").json()
    assert body["status"] == "waiting" and body["tracking_fields"] == []


def test_get_meeting_by_uuid_when_encoded_once_or_twice(sim: SimServer) -> None:
    token = s2s_token(sim.base_url)
    for uuid in ("/ab//cd+ef==", "plainUuidAAAAAAAAAAAAA==", "x/y+z=="):
        m = sim.client.create_meeting("cy@example.com", rtms="none", meeting_uuid=uuid)
        once = quote(uuid, safe="")
        for path in (once, quote(once, safe="")):
            resp = get(sim, "/v2/meetings/" + path, token)
            assert resp.status_code == 200, (uuid, path, resp.text)
            assert resp.json()["uuid"] == uuid and resp.json()["id"] == m["meeting_id"]


def test_get_meeting_404_when_unknown_or_other_account(sim: SimServer) -> None:
    sim.client.load_scenario(
        {
            "accounts": [
                {
                    "account_id": "acctEU",
                    "s2s_client_id": OTHER_S2S.client_id,
                    "s2s_client_secret": OTHER_S2S.client_secret,
                    "subscription_id": "subEU",
                }
            ],
            "hosts": [{"email": "eva@eu.example.com", "account": "acctEU"}],
        }
    )
    theirs = sim.client.create_meeting("eva@eu.example.com", rtms="none")
    token = s2s_token(sim.base_url)
    for key in ("12345678901", str(theirs["meeting_id"]), quote(theirs["meeting_uuid"], safe=""), "nope"):
        resp = get(sim, "/v2/meetings/" + key, token)
        assert resp.status_code == 404
        assert resp.json()["code"] == 3001
    assert get(sim, "/v2/meetings/12345678901", token).json() == {
        "code": 3001,
        "message": "Meeting does not exist: 12345678901.",
    }
    eu_token = s2s_token(sim.base_url, OTHER_S2S, "acctEU")
    assert get(sim, f"/v2/meetings/{theirs['meeting_id']}", eu_token).status_code == 200
    reasons = [c.get("reason") for c in sim.client.ledger(kind="rest.call")]
    assert reasons[:4] == ["not_found"] * 4


def test_lookups_refuse_bad_tokens(sim: SimServer) -> None:
    m = sim.client.create_meeting("dee@example.com", rtms="none")
    rtms_app_token = token_response(sim.base_url, RTMS_APP, grant="client_credentials").json()["access_token"]
    app_level = token_response(sim.base_url, sim.config.account.s2s, grant="client_credentials").json()[
        "access_token"
    ]
    invalid = {"code": 124, "message": "Invalid access token."}
    for path in (f"/v2/meetings/{m['meeting_id']}", "/v2/users/dee@example.com"):
        for token in ("garbage", rtms_app_token, app_level):
            resp = get(sim, path, token)
            assert (resp.status_code, resp.json()) == (401, invalid), (path, token)
        assert requests.get(sim.base_url + path, timeout=5).status_code == 401
    token = s2s_token(sim.base_url)
    sim.client.expire_tokens()
    for path in (f"/v2/meetings/{m['meeting_id']}", "/v2/users/me"):
        resp = get(sim, path, token)
        assert resp.status_code == 401 and resp.json()["message"] == "Access token is expired."


def test_get_user_by_id_email_and_me(sim: SimServer) -> None:
    host = sim.client.add_host("dana.lee@example.com", name="Dana Lee")
    sim.client.add_host("other@example.com")
    token = s2s_token(sim.base_url)
    expected = {
        "id": host["id"],
        "email": "dana.lee@example.com",
        "first_name": "Dana",
        "last_name": "Lee",
        "type": 2,
        "account_id": ACCOUNT_ID,
        "status": "active",
    }
    for key in (host["id"], "dana.lee@example.com", quote("Dana.Lee@Example.com"), "me"):
        resp = get(sim, "/v2/users/" + key, token)
        assert resp.status_code == 200, (key, resp.text)
        body = resp.json()
        assert {k: body[k] for k in expected} == expected
    assert resp.headers["X-RateLimit-Category"] == "Medium"


def test_get_user_404_when_unknown_or_other_account(sim: SimServer) -> None:
    sim.client.load_scenario(
        {
            "accounts": [
                {
                    "account_id": "acctEU",
                    "s2s_client_id": OTHER_S2S.client_id,
                    "s2s_client_secret": OTHER_S2S.client_secret,
                    "subscription_id": "subEU",
                }
            ],
            "hosts": [{"email": "eva@eu.example.com", "account": "acctEU", "id": "euHostId"}],
        }
    )
    token = s2s_token(sim.base_url)
    resp = get(sim, "/v2/users/ghost@example.com", token)
    assert resp.status_code == 404
    assert resp.json() == {"code": 1001, "message": "User does not exist: ghost@example.com."}
    assert get(sim, "/v2/users/euHostId", token).json()["code"] == 1001
    assert get(sim, "/v2/users/me", token).json()["code"] == 1001  # the account has no user yet
    eu_token = s2s_token(sim.base_url, OTHER_S2S, "acctEU")
    assert get(sim, "/v2/users/euHostId", eu_token).json()["email"] == "eva@eu.example.com"


def test_lookups_429_when_over_forced_low_limit(make_sim: Any) -> None:
    sim = make_sim(time_scale=1.0)  # a real 1 s window
    limits = sim.client._call(
        "POST", "/_sim/rate_limits", json={"meeting_get_per_second": 2, "user_get_per_second": 1}
    )
    assert limits == {"meeting_get_per_second": 2, "user_get_per_second": 1}
    m = sim.client.create_meeting("eli@example.com", rtms="none")
    token = s2s_token(sim.base_url)
    meetings = [get(sim, f"/v2/meetings/{m['meeting_id']}", token) for _ in range(3)]
    assert [r.status_code for r in meetings] == [200, 200, 429]
    users = [get(sim, "/v2/users/eli@example.com", token) for _ in range(2)]
    assert [r.status_code for r in users] == [200, 429]
    for over, category, limit in ((meetings[2], "Light", "2"), (users[1], "Medium", "1")):
        assert over.json() == {"code": 429, "message": MSG_QPS}
        assert over.headers["X-RateLimit-Category"] == category
        assert over.headers["X-RateLimit-Type"] == "QPS"
        assert over.headers["X-RateLimit-Limit"] == limit
        assert over.headers["X-RateLimit-Remaining"] == "0"
    reasons = [c.get("reason") for c in sim.client.ledger(kind="rest.call")]
    assert reasons == [None, None, "rate_limit", None, "rate_limit"]


def test_rate_limits_default_and_reject_bad_values(make_sim: Any) -> None:
    sim = make_sim()
    assert sim.client._call("GET", "/_sim/rate_limits") == {
        "meeting_get_per_second": 30,
        "user_get_per_second": 20,
    }
    for bad in ({"meeting_get_per_second": 0}, {"light": 3}, {"user_get_per_second": "5"}):
        resp = requests.post(sim.base_url + "/_sim/rate_limits", json=bad, timeout=5)
        assert resp.status_code == 400, bad
    sim.client.load_scenario({"rate_limits": {"user_get_per_second": 7}})
    assert sim.client._call("GET", "/_sim/rate_limits")["user_get_per_second"] == 7


def test_tracking_fields_round_trip_from_scenario(sim: SimServer) -> None:
    fields = [{"field": "residency", "value": "EU"}]
    sim.client.load_scenario(
        {"meetings": [{"host_email": "fay@example.com", "rtms": "none", "tracking_fields": fields}]}
    )
    (view,) = sim.client.list_meetings(state="live")
    assert view["tracking_fields"] == fields
    assert get(sim, f"/v2/meetings/{view['meeting_id']}").json()["tracking_fields"] == fields


def test_create_meeting_rejects_malformed_tracking_fields(sim: SimServer) -> None:
    for bad in ([{"value": "x"}], "region=eu", [{"field": "a", "value": 3}]):
        resp = requests.post(
            sim.base_url + "/_sim/meetings",
            json={"host_email": "gus@example.com", "tracking_fields": bad},
            timeout=5,
        )
        assert resp.status_code == 400, bad


def test_meeting_events_omit_host_email_when_asked(hooked: SimServer, receiver: Receiver) -> None:
    old = hooked.client.create_meeting("hal@example.com", rtms="none", omit_host_email_in_events=True)
    new = hooked.client.create_meeting("ivy@example.com", rtms="none")
    assert hooked.client.get_meeting(old["meeting_uuid"])["omit_host_email_in_events"] is True
    hooked.client.end_meeting(old["meeting_uuid"])
    hooked.client.end_meeting(new["meeting_uuid"])
    by_uuid: dict[str, list[dict[str, Any]]] = {}
    for req in receiver.wait("meeting.started", 2) + receiver.wait("meeting.ended", 2):
        obj = req.body["payload"]["object"]
        by_uuid.setdefault(obj["uuid"], []).append(obj)
    assert [("host_email" in o) for o in by_uuid[old["meeting_uuid"]]] == [False, False]
    assert [o["host_email"] for o in by_uuid[new["meeting_uuid"]]] == ["ivy@example.com"] * 2
    assert all("host_id" in o for objs in by_uuid.values() for o in objs)
    # The lookup still has it: that is how the product learns it.
    body = get(hooked, f"/v2/meetings/{old['meeting_id']}").json()
    assert body["host_email"] == "hal@example.com"
