"""Each fault control: event drop/duplicate/delay per channel and meeting, REST faults, clearing."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.eventually import eventually
from tests.zoomsim.conftest import Receiver, bearer, s2s_token, today
from zoomsim.client import SimClientError
from zoomsim.testing import SimServer


def test_drop_webhook_only(hooked: SimServer, receiver: Receiver) -> None:
    c = hooked.client
    c.add_event_fault("meeting.started", "webhook", "drop")
    m = c.create_meeting("a@example.com", rtms="none")
    c.wait_for("webhook.dropped", meeting_uuid=m["meeting_uuid"])
    c.wait_for("ws.lost", meeting_uuid=m["meeting_uuid"])  # the ws copy went its own way
    c.end_meeting(m["meeting_uuid"])
    receiver.wait("meeting.ended")
    assert receiver.events("meeting.started") == []
    applied = c.ledger(kind="fault.applied")[0]
    assert applied["channel"] == "webhook" and applied["action"] == "drop"


def test_drop_times_and_meeting_targeting(hooked: SimServer, receiver: Receiver) -> None:
    c = hooked.client
    target = c.create_meeting("t@example.com", rtms="none", emit_started=False)
    c.add_event_fault("*", "*", "drop", meeting_uuid=target["meeting_uuid"], times=1)
    other = c.create_meeting("o@example.com", rtms="none")
    receiver.wait("meeting.started")
    c.end_meeting(target["meeting_uuid"])  # the webhook copy matches first and uses up times=1
    c.end_meeting(other["meeting_uuid"])
    ended = receiver.wait("meeting.ended", count=1)
    assert ended[0].body["payload"]["object"]["uuid"] == other["meeting_uuid"]
    # The rule matched the target's webhook copy (times=1) and is gone; the ws copy was not dropped.
    assert c.faults()["events"] == []
    assert [e["channel"] for e in c.ledger(kind="fault.applied")] == ["webhook"]


def test_duplicate(hooked: SimServer, receiver: Receiver) -> None:
    hooked.client.add_event_fault("meeting.started", "webhook", "duplicate", count=3)
    hooked.client.create_meeting("d@example.com", rtms="none")
    got = receiver.wait("meeting.started", count=3)
    assert len({g.raw for g in got}) == 1
    assert sorted(a["copy"] for a in hooked.client.wait_for("webhook.attempt", count=3)) == [1, 2, 3]


def test_delay_is_scaled_and_per_channel(hooked: SimServer, receiver: Receiver) -> None:
    hooked.client.add_event_fault("meeting.started", "webhook", "delay", delay_s=40)  # 0.4 s real
    t0 = time.monotonic()
    hooked.client.create_meeting("e@example.com", rtms="none")
    (got,) = receiver.wait("meeting.started")
    assert got.at - t0 >= 0.4
    lost = hooked.client.ledger(kind="ws.lost")
    assert lost and lost[0]["seq"] < hooked.client.ledger(kind="webhook.attempt")[0]["seq"]


def test_deliver_rule_overrides_wildcard_drop(hooked: SimServer, receiver: Receiver) -> None:
    c = hooked.client
    c.add_event_fault("*", "webhook", "drop")
    c.add_event_fault("meeting.ended", "webhook", "deliver")
    m = c.create_meeting("f@example.com", rtms="none")
    c.end_meeting(m["meeting_uuid"])
    receiver.wait("meeting.ended")
    assert receiver.events("meeting.started") == []


def test_clear_and_delete_faults(sim: SimServer) -> None:
    c = sim.client
    a = c.add_event_fault("x", "ws", "drop")
    c.rest_fault(500, path="/v2/metrics/meetings")
    c.delete_fault(a)
    assert c.faults()["events"] == [] and len(c.faults()["rest"]) == 1
    c.clear_faults()
    assert c.faults() == {"events": [], "rest": [], "ws_down_remaining_real_s": 0.0}
    with pytest.raises(SimClientError):
        c.add_event_fault("x", "carrier-pigeon", "drop")
    with pytest.raises(SimClientError):
        c.rest_fault(418, path="/v2/x")


def metrics(sim: SimServer, token: str, timeout: float = 5) -> requests.Response:
    return requests.get(
        sim.base_url + "/v2/metrics/meetings",
        params={"from": today(), "to": today()},
        headers=bearer(token),
        timeout=timeout,
    )


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rest_fault_status(sim: SimServer, status: int) -> None:
    token = s2s_token(sim.base_url)
    sim.client.rest_fault(status, path="/v2/metrics/meetings", times=1)
    first = metrics(sim, token)
    assert first.status_code == status and first.json()["code"] == status
    assert "x-zm-trackingid" in first.headers
    assert metrics(sim, token).status_code == 200
    calls = sim.client.ledger(kind="rest.call")
    assert [(c["status"], c.get("reason")) for c in calls] == [(status, "fault"), (200, None)]


def test_rest_fault_timeout_and_prefix(make_sim: Any) -> None:
    sim = make_sim(rest_timeout_fault_hold_real_s=1.0)
    token = s2s_token(sim.base_url)
    sim.client.rest_fault("timeout", path_prefix="/v2/", times=1)
    with pytest.raises(requests.Timeout):
        metrics(sim, token, timeout=0.2)
    eventually(lambda: sim.client.ledger(kind="rest.call"), timeout=5, what="ledger rest.call")
    assert sim.client.ledger(kind="rest.call")[0]["reason"] == "fault_timeout"
    assert metrics(sim, token).status_code == 200


def test_rest_fault_delay_handles_the_request_late_even_if_the_caller_gave_up(sim: SimServer) -> None:
    token = s2s_token(sim.base_url)
    # sim's time scale is 0.01: 100 simulated seconds hold the call 1 s.
    sim.client.rest_fault("delay", path="/v2/metrics/meetings", delay_s=100, times=1)
    with pytest.raises(requests.Timeout):
        metrics(sim, token, timeout=0.2)
    calls = eventually(lambda: sim.client.ledger(kind="rest.call"), timeout=10, what="the late call handled")
    assert [(c["status"], c.get("reason")) for c in calls] == [(200, "fault_delay")]
    assert metrics(sim, token).status_code == 200
    with pytest.raises(SimClientError, match="delay_s"):
        sim.client.rest_fault("delay", path="/v2/x")


def test_rest_fault_on_oauth(sim: SimServer) -> None:
    from tests.zoomsim.conftest import S2S_APP, token_response

    sim.client.rest_fault(503, path="/oauth/token", times=1)
    assert token_response(sim.base_url, S2S_APP).status_code == 503
    assert token_response(sim.base_url, S2S_APP).status_code == 200
