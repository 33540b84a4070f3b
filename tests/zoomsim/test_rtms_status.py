"""PATCH /v2/live_meetings/{id}/rtms_app/status and the RTMS events it causes."""

from __future__ import annotations

import re
from typing import Any

import requests

from tests.zoomsim.conftest import ACCOUNT_ID, RTMS_APP, Receiver, bearer, s2s_token
from zoomsim.testing import SimServer


def patch(
    sim: SimServer,
    meeting_id: int | str,
    action: str,
    token: str | None = None,
    client_id: str = RTMS_APP.client_id,
    body: Any = None,
) -> requests.Response:
    token = token or s2s_token(sim.base_url)
    payload = body if body is not None else {"action": action, "settings": {"client_id": client_id}}
    return requests.patch(
        f"{sim.base_url}/v2/live_meetings/{meeting_id}/rtms_app/status",
        json=payload,
        headers=bearer(token),
        timeout=5,
    )


def emitted(sim: SimServer, event: str, meeting_uuid: str, count: int = 1) -> list[dict[str, Any]]:
    return sim.client.wait_for("event.emitted", count=count, event=event, meeting_uuid=meeting_uuid)


def test_api_start_then_rtms_started(hooked: SimServer, receiver: Receiver) -> None:
    m = hooked.client.create_meeting("ann@example.com", rtms="api")
    assert patch(hooked, m["meeting_id"], "start").status_code == 204
    (req,) = receiver.wait("meeting.rtms_started")
    p = req.body["payload"]
    assert set(p) == {
        "meeting_uuid",
        "operator_id",
        "rtms_stream_id",
        "server_urls",
        "account_id",
        "is_original_host",
        "meeting_id",
    }
    assert p["meeting_uuid"] == m["meeting_uuid"] and p["meeting_id"] == m["meeting_id"]
    assert p["account_id"] == ACCOUNT_ID and p["is_original_host"] is True
    assert re.fullmatch(r"[0-9a-f]{32}", p["rtms_stream_id"])
    assert re.fullmatch(rf"ws://127\.0\.0\.1:{hooked.port}/rtms-sjc1/\d+/signaling", p["server_urls"])
    streams = hooked.client.get_meeting(m["meeting_uuid"])["streams"]
    assert streams == [
        {
            "rtms_stream_id": p["rtms_stream_id"],
            "server_urls": p["server_urls"],
            "state": "started",
            "generation": streams[0]["generation"],
            "stop_reason": None,
        }
    ]


def test_start_while_active_is_refused_then_stop_then_fresh_start(sim: SimServer) -> None:
    m = sim.client.create_meeting("bob@example.com", rtms="api")
    token = s2s_token(sim.base_url)
    assert patch(sim, m["meeting_id"], "start", token).status_code == 204
    again = patch(sim, m["meeting_id"], "start", token)  # still "starting": refused too
    assert again.status_code == 400 and again.json() == {
        "code": 2310,
        "message": "Failed to perform RTMS app operation",
    }
    first = emitted(sim, "meeting.rtms_started", m["meeting_uuid"])[0]["rtms_stream_id"]
    assert patch(sim, m["meeting_id"], "start", token).status_code == 400
    assert patch(sim, m["meeting_id"], "stop", token).status_code == 204
    stopped = emitted(sim, "meeting.rtms_stopped", m["meeting_uuid"])[0]
    assert stopped["payload"] == {
        "meeting_uuid": m["meeting_uuid"],
        "rtms_stream_id": first,
        "stop_reason": 2,
    }
    assert patch(sim, m["meeting_id"], "stop", token).status_code == 400  # nothing to stop
    assert patch(sim, m["meeting_id"], "start", token).status_code == 204
    second = emitted(sim, "meeting.rtms_started", m["meeting_uuid"], count=2)[1]
    assert second["rtms_stream_id"] != first
    assert second["payload"]["server_urls"] != stopped["payload"].get("server_urls")


def test_pause_resume_record_state(sim: SimServer) -> None:
    m = sim.client.create_meeting("cy@example.com", rtms="api")
    token = s2s_token(sim.base_url)
    assert patch(sim, m["meeting_id"], "pause", token).status_code == 400  # nothing started
    patch(sim, m["meeting_id"], "start", token)
    emitted(sim, "meeting.rtms_started", m["meeting_uuid"])
    assert patch(sim, m["meeting_id"], "resume", token).status_code == 400  # not paused
    assert patch(sim, m["meeting_id"], "pause", token).status_code == 204
    assert sim.client.get_meeting(m["meeting_uuid"])["streams"][0]["state"] == "paused"
    assert patch(sim, m["meeting_id"], "start", token).status_code == 400  # paused counts as active
    assert patch(sim, m["meeting_id"], "resume", token).status_code == 204
    assert sim.client.get_meeting(m["meeting_uuid"])["streams"][0]["state"] == "started"


def test_end_with_active_stream_sends_stopped_6_then_ended(sim: SimServer) -> None:
    m = sim.client.create_meeting("dee@example.com", rtms="auto")
    started = emitted(sim, "meeting.rtms_started", m["meeting_uuid"])[0]
    sim.client.end_meeting(m["meeting_uuid"])
    events = [e for e in sim.client.ledger(kind="event.emitted", meeting_uuid=m["meeting_uuid"])]
    assert [e["event"] for e in events] == [
        "meeting.started",
        "meeting.rtms_started",
        "meeting.rtms_stopped",
        "meeting.ended",
    ]
    assert events[2]["payload"]["stop_reason"] == 6
    assert events[2]["rtms_stream_id"] == started["rtms_stream_id"]
    ended = events[3]["payload"]
    assert ended["account_id"] == ACCOUNT_ID
    assert set(ended["object"]) == {
        "id",
        "uuid",
        "host_id",
        "host_email",
        "topic",
        "type",
        "start_time",
        "timezone",
        "duration",
        "end_time",
    }
    assert ended["object"]["id"] == str(m["meeting_id"])
    after = patch(sim, m["meeting_id"], "start")
    assert after.status_code == 404 and after.json()["code"] == 3001


def test_errors(sim: SimServer) -> None:
    token = s2s_token(sim.base_url)
    nf = patch(sim, 12345678901, "start", token)
    assert nf.status_code == 404 and nf.json() == {
        "code": 3001,
        "message": "Meeting does not exist: 12345678901.",
    }
    none = sim.client.create_meeting("eve@example.com", rtms="none")
    r = patch(sim, none["meeting_id"], "start", token)
    assert r.status_code == 400 and r.json() == {"code": 2308, "message": "Not allowed to start RTMS app"}
    api = sim.client.create_meeting("fay@example.com", rtms="api")
    assert patch(sim, api["meeting_id"], "start", token, client_id="someOtherApp").json()["code"] == 2308
    assert patch(sim, api["meeting_id"], "jump", token).json()["code"] == 300
    assert patch(sim, api["meeting_id"], "start", token, body={"action": "start"}).json()["code"] == 300
    noplan = sim.client.create_meeting("gil@example.com", rtms="api", rtms_plan=False)
    r = patch(sim, noplan["meeting_id"], "start", token)
    assert r.status_code == 400 and r.json() == {
        "code": 2310,
        "message": "Failed to perform RTMS app operation",
    }
    assert all("x-zm-trackingid" in x.headers for x in (nf, r))


def test_concurrency_cap(make_sim: Any) -> None:
    sim = make_sim(rtms_concurrency_cap=1)
    a = sim.client.create_meeting("h1@example.com", rtms="api")
    b = sim.client.create_meeting("h2@example.com", rtms="api")
    token = s2s_token(sim.base_url)
    assert patch(sim, a["meeting_id"], "start", token).status_code == 204
    assert patch(sim, b["meeting_id"], "start", token).status_code == 204
    (limited,) = emitted(sim, "rtms.concurrency_limited", b["meeting_uuid"])
    assert limited["payload"]["concurrency_number"] == 2
    assert limited["payload"]["id_field"] == {"meeting_uuid": b["meeting_uuid"]}
    assert "operator_id" in limited["payload"]
    emitted(sim, "meeting.rtms_started", a["meeting_uuid"])
    assert (
        sim.client.ledger(kind="event.emitted", event="meeting.rtms_started", meeting_uuid=b["meeting_uuid"])
        == []
    )
    assert sim.client.get_meeting(b["meeting_uuid"])["streams"] == []


def test_auto_start_and_host_stop(sim: SimServer) -> None:
    m = sim.client.create_meeting("ivy@example.com", rtms="auto")
    emitted(sim, "meeting.rtms_started", m["meeting_uuid"])
    sim.client.host_rtms(m["meeting_uuid"], "stop", stop_reason=1)
    stopped = emitted(sim, "meeting.rtms_stopped", m["meeting_uuid"])[0]
    assert stopped["payload"]["stop_reason"] == 1


def test_other_accounts_meetings_are_invisible(make_sim: Any) -> None:
    sim = make_sim()
    sim.client.load_scenario(
        {
            "accounts": [
                {
                    "account_id": "acctOther",
                    "s2s_client_id": "otherId",
                    "s2s_client_secret": "otherSecret",
                    "subscription_id": "subOther",
                }
            ],
            "hosts": [{"email": "zed@other.example", "account": "acctOther"}],
        }
    )
    m = sim.client.create_meeting("zed@other.example", rtms="api")
    from zoomsim.config import AppCreds

    other = s2s_token(sim.base_url, creds=AppCreds("otherId", "otherSecret"), account_id="acctOther")
    assert patch(sim, m["meeting_id"], "start").status_code == 404  # main account's token
    assert patch(sim, m["meeting_id"], "start", other).status_code == 204


def test_stream_listeners_hook_for_part_2(sim: SimServer) -> None:
    changes: list[tuple[str, str]] = []
    sim.call(lambda: sim.sim.stream_listeners.append(lambda m, s, change: changes.append((change, s.state))))
    m = sim.client.create_meeting("hook@example.com", rtms="auto")
    emitted(sim, "meeting.rtms_started", m["meeting_uuid"])
    sim.client.end_meeting(m["meeting_uuid"])
    assert changes == [("started", "started"), ("stopped", "stopped")]


# ---- issue #18: a start that meets a running stream, and per-user auto-start ----------------------------


def test_a_start_on_a_running_stream_is_refused_by_default(sim: SimServer) -> None:
    m = sim.client.create_meeting("ann@example.com", rtms="api")
    assert patch(sim, m["meeting_id"], "start").status_code == 204
    refused = patch(sim, m["meeting_id"], "start")
    assert refused.status_code == 400 and refused.json()["code"] == 2310


def test_a_start_on_a_running_stream_replaces_it_when_so_configured(sim: SimServer) -> None:
    sim.client.load_scenario({"rtms_behaviour": {"start_on_running": "replace"}})
    m = sim.client.create_meeting("ann@example.com", rtms="api")
    assert patch(sim, m["meeting_id"], "start").status_code == 204
    (first,) = emitted(sim, "meeting.rtms_started", m["meeting_uuid"])
    assert patch(sim, m["meeting_id"], "start").status_code == 204
    (stopped,) = emitted(sim, "meeting.rtms_stopped", m["meeting_uuid"])
    assert stopped["payload"]["rtms_stream_id"] == first["payload"]["rtms_stream_id"]
    assert stopped["payload"]["stop_reason"] == 2  # as if the app user had stopped it
    second = emitted(sim, "meeting.rtms_started", m["meeting_uuid"], count=2)[1]
    assert second["payload"]["rtms_stream_id"] != first["payload"]["rtms_stream_id"]
    assert sim.client.ledger(kind="rtms.replaced", meeting_uuid=m["meeting_uuid"])
    sim.client.reset()  # a reset restores the configured behaviour
    m = sim.client.create_meeting("ann@example.com", rtms="api")
    assert patch(sim, m["meeting_id"], "start").status_code == 204
    assert patch(sim, m["meeting_id"], "start").status_code == 400


def test_a_hosts_auto_start_setting_decides_a_meetings_rtms_mode(sim: SimServer) -> None:
    assert sim.client.add_host("auto@example.com", rtms_auto_start=True)["rtms_auto_start"] is True
    sim.client.add_host("manual@example.com", rtms_auto_start=False)
    auto = sim.client.create_meeting("auto@example.com")
    manual = sim.client.create_meeting("manual@example.com")
    explicit = sim.client.create_meeting("manual@example.com", rtms="auto")
    assert sim.client.get_meeting(auto["meeting_uuid"])["rtms"] == "auto"
    assert sim.client.get_meeting(manual["meeting_uuid"])["rtms"] == "api"
    assert sim.client.get_meeting(explicit["meeting_uuid"])["rtms"] == "auto"  # an explicit mode wins
    emitted(sim, "meeting.rtms_started", auto["meeting_uuid"])  # Zoom started it on its own
    bad = requests.post(
        f"{sim.base_url}/_sim/hosts", json={"email": "x@example.com", "rtms_auto_start": "yes"}, timeout=5
    )
    assert bad.status_code == 400


def test_bad_rtms_behaviour_and_time_zones_are_refused(sim: SimServer) -> None:
    for scenario in (
        {"rtms_behaviour": {"start_on_running": "sometimes"}},
        {"rtms_behaviour": {"other": 1}},
        {"accounts": [{"account_id": ACCOUNT_ID, "timezone": "Mars/Olympus"}]},
        {"hosts": [{"email": "y@example.com", "rtms_auto_start": 1}]},
    ):
        response = requests.post(f"{sim.base_url}/_sim/scenario", json=scenario, timeout=5)
        assert response.status_code == 400, scenario
