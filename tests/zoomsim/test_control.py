"""Control API: meetings (UUIDs with / + =), hosts, ledger filters, reset, scenarios."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.zoomsim.conftest import bearer, s2s_token, today
from zoomsim import ids
from zoomsim.client import SimClientError, meeting_path
from zoomsim.testing import SimServer

AWKWARD = ["/Zk+Qw//aB3Zk9sQw1x2Rg==", "ab+cd/ef+gh/ij+kl/mnop==", "Tq8B9v2xR5e+Yp1Lw0sZ4A=="]


def test_generated_ids_look_like_zooms() -> None:
    for _ in range(200):
        u = ids.meeting_uuid()
        assert len(u) == 24 and u.endswith("==") and re.fullmatch(r"[A-Za-z0-9+/]{22}==", u)
        assert 10 <= len(str(ids.meeting_number())) <= 11
    assert ids.user_id_for("A@x.com") == ids.user_id_for("a@x.com")


def test_create_returns_201_and_defaults(sim: SimServer) -> None:
    resp = requests.post(sim.base_url + "/_sim/meetings", json={"host_email": "x@example.com"}, timeout=5)
    assert resp.status_code == 201 and set(resp.json()) == {"meeting_uuid", "meeting_id"}
    view = sim.client.get_meeting(resp.json()["meeting_uuid"])
    assert view["state"] == "live" and view["rtms"] == "auto" and view["speak_from"] == "meeting_start"
    for bad in (
        {"host_email": "nope"},
        {"host_email": "a@b.c", "rtms": "maybe"},
        {"host_email": "a@b.c", "speak_from": "later"},
        {"host_email": "a@b.c", "transcript": "hi"},
    ):
        assert requests.post(sim.base_url + "/_sim/meetings", json=bad, timeout=5).status_code == 400


@pytest.mark.parametrize("uuid", AWKWARD)
@pytest.mark.parametrize("double", [False, True])
def test_uuids_with_slash_plus_equals_in_paths(sim: SimServer, uuid: str, double: bool) -> None:
    m = sim.client.create_meeting(
        "u@example.com",
        rtms="none",
        meeting_uuid=uuid,
        transcript=[{"speaker": "Ann", "text": "Hello"}],
        segment_interval_ms=500,
        speak_from="first_client",
    )
    assert m["meeting_uuid"] == uuid
    view = sim.client.get_meeting(uuid, double=double)
    assert view["meeting_uuid"] == uuid and view["transcript"] == [{"speaker": "Ann", "text": "Hello"}]
    assert view["speak_from"] == "first_client" and view["segment_interval_ms"] == 500
    assert sim.client.end_meeting(uuid, double=double)["state"] == "ended"
    assert [e["event"] for e in sim.client.ledger(kind="event.emitted", meeting_uuid=uuid)] == [
        "meeting.started",
        "meeting.ended",
    ]
    assert sim.client.get_meeting(str(m["meeting_id"]))["meeting_uuid"] == uuid


def test_meeting_paths_404_and_409(sim: SimServer) -> None:
    with pytest.raises(SimClientError) as e:
        sim.client.get_meeting("nope==")
    assert e.value.status_code == 404
    m = sim.client.create_meeting("v@example.com", rtms="none")
    sim.client.end_meeting(m["meeting_uuid"])
    with pytest.raises(SimClientError) as e:
        sim.client.end_meeting(m["meeting_uuid"])
    assert e.value.status_code == 409
    assert meeting_path("/a//b==", double=True) == "%252Fa%252F%252Fb%253D%253D"


def test_unknown_host_gets_stable_id_and_hosts_route(sim: SimServer) -> None:
    m = sim.client.create_meeting("New.Person@corp.example", rtms="none")
    view = sim.client.get_meeting(m["meeting_uuid"])
    assert view["host_id"] == ids.user_id_for("new.person@corp.example")
    h = sim.client.add_host("fixed@corp.example", id="FixedHostId0000000000a", name="Fixed Host")
    m2 = sim.client.create_meeting("fixed@corp.example", rtms="none")
    assert sim.client.get_meeting(m2["meeting_uuid"])["host_id"] == h["id"] == "FixedHostId0000000000a"


def test_ledger_filters_and_rest_calls(sim: SimServer) -> None:
    c = sim.client
    m = c.create_meeting("w@example.com", rtms="none")
    token = s2s_token(sim.base_url)
    requests.get(
        sim.base_url + "/v2/metrics/meetings",
        params={"from": today(), "to": today()},
        headers=bearer(token),
        timeout=5,
    )
    everything = c.ledger()
    seqs = [e["seq"] for e in everything]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["at"]) for e in everything)
    (call,) = c.ledger(kind="rest.call")
    assert call["method"] == "GET" and call["path"] == "/v2/metrics/meetings" and call["status"] == 200
    assert call["account"] and call["returned"] == 1
    assert {e["kind"] for e in c.ledger(kind="ws.*")} == {"ws.lost"}
    assert all(e["meeting_uuid"] == m["meeting_uuid"] for e in c.ledger(meeting_uuid=m["meeting_uuid"]))
    mid = seqs[len(seqs) // 2]
    assert [e["seq"] for e in c.ledger(since=mid)] == [s for s in seqs if s > mid]
    assert c.ledger(kind="oauth.token")[0]["client_id"] == "s2sAppClientId"
    assert "s2sAppClientSecret" not in json.dumps(everything)


def test_reset(sim: SimServer) -> None:
    c = sim.client
    c.create_meeting("r@example.com", rtms="auto")
    c.add_event_fault("*", "*", "drop")
    last = c.ledger()[-1]["seq"]
    c.reset()
    assert c.list_meetings() == [] and c.faults()["events"] == []
    entries = c.ledger()
    assert [e["kind"] for e in entries] == ["sim.reset"] and entries[0]["seq"] > last


def test_scenario_file(make_sim: Any, tmp_path: Path) -> None:
    scenario = {
        "accounts": [
            {
                "account_id": "acctEU",
                "s2s_client_id": "euId",
                "s2s_client_secret": "euSecret",
                "subscription_id": "subEU",
                "data_centre": "ams1",
                "domains": ["eu.example"],
            },
        ],
        "hosts": [{"id": "euHostId", "email": "eva@eu.example", "account": "acctEU", "name": "Eva"}],
        "meetings": [
            {
                "host_email": "eva@eu.example",
                "topic": "Already running",
                "rtms": "api",
                "start_offset_s": -600,
                "meeting_uuid": "/already//running+uuid==",
            },
            {
                "host_email": "eva@eu.example",
                "topic": "Later",
                "rtms": "auto",
                "start_offset_s": 10,
                "end_offset_s": 40,
                "tracking_fields": [{"field": "cost_centre", "value": "42"}],
            },
            {"host_email": "sam@us.example", "topic": "Default account", "rtms": "none"},
        ],
    }
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario))
    sim = make_sim(scenario_path=str(path))  # time scale 0.01: starts after 0.1 s, ends at 0.4 s
    c = sim.client
    info = {a["account_id"]: a for a in c.info()["accounts"]}
    assert info["acctEU"]["data_centre"] == "ams1" and info["acctEU"]["subscription_id"] == "subEU"
    running = c.get_meeting("/already//running+uuid==", double=True)
    assert (
        running["state"] == "live" and running["account_id"] == "acctEU" and running["host_id"] == "euHostId"
    )
    assert c.ledger(kind="event.emitted", meeting_uuid=running["meeting_uuid"]) == []  # began before zoomsim
    later = [m for m in c.list_meetings() if m["topic"] == "Later"][0]
    started = c.wait_for("event.emitted", event="meeting.rtms_started", meeting_uuid=later["meeting_uuid"])[0]
    assert "/rtms-ams1/" in started["payload"]["server_urls"]
    c.wait_for("event.emitted", event="meeting.ended", meeting_uuid=later["meeting_uuid"])
    kinds = [e["event"] for e in c.ledger(kind="event.emitted", meeting_uuid=later["meeting_uuid"])]
    assert kinds == ["meeting.started", "meeting.rtms_started", "meeting.rtms_stopped", "meeting.ended"]
    default = [m for m in c.list_meetings() if m["topic"] == "Default account"][0]
    assert default["account_id"] == c.info()["accounts"][0]["account_id"]
    by_domain = c.create_meeting("newcomer@EU.example", rtms="none")  # unknown host, domain owned by acctEU
    assert c.get_meeting(by_domain["meeting_uuid"])["account_id"] == "acctEU"
