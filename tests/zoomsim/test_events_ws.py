"""The event-subscription WebSocket: build_connection, heartbeat, one connection per subscription,
lost events, token expiry, and the same event_ts as the webhook copy."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.eventually import eventually
from tests.zoomsim.conftest import RTMS_APP, SUBSCRIPTION_ID, Receiver, s2s_token, token_response
from zoomsim.testing import SimServer


def ws_url(sim: SimServer, token: str, sub: str = SUBSCRIPTION_ID) -> str:
    return sim.base_url.replace("http://", "ws://") + f"/ws?subscriptionId={sub}&access_token={token}"


def open_ws(
    sim: SimServer, token: str | None = None, sub: str = SUBSCRIPTION_ID
) -> tuple[ClientConnection, dict[str, Any]]:
    ws = connect(
        ws_url(sim, token or s2s_token(sim.base_url), sub), open_timeout=5, close_timeout=2, legacy=True
    )
    first = json.loads(ws.recv(timeout=5))
    return ws, first


def recv_json(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
    return data


def recv_event(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    frame = recv_json(ws, timeout)
    assert frame["module"] == "message" and isinstance(frame["content"], str)
    inner: dict[str, Any] = json.loads(frame["content"])
    return inner


def test_build_connection_and_heartbeat(sim: SimServer) -> None:
    ws, first = open_ws(sim)
    with ws:
        assert first["module"] == "build_connection" and first["success"] is True
        ws.send(json.dumps({"module": "heartbeat"}))
        assert recv_json(ws)["module"] == "heartbeat"
    assert sim.client.wait_for("ws.closed")[0]["reason"] == "client_closed"


@pytest.mark.parametrize("case", ["garbage", "rtms_app", "expired"])
def test_bad_tokens_are_refused(sim: SimServer, case: str) -> None:
    if case == "garbage":
        token = "garbage"
    elif case == "rtms_app":
        token = token_response(sim.base_url, RTMS_APP, grant="client_credentials").json()["access_token"]
    else:
        token = s2s_token(sim.base_url)
        sim.client.expire_tokens()
    ws, first = open_ws(sim, token)
    with ws:
        assert first == {"module": "build_connection", "success": False, "content": "Invalid Token"}
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    assert sim.client.ledger(kind="ws.refused")[0]["reason"] in (
        "invalid_token",
        "wrong_app_token",
        "expired_token",
    )


def test_client_credentials_token_of_the_s2s_app_is_accepted(sim: SimServer) -> None:
    from tests.zoomsim.conftest import S2S_APP

    token = token_response(sim.base_url, S2S_APP, grant="client_credentials").json()["access_token"]
    ws, first = open_ws(sim, token)
    with ws:
        assert first["success"] is True


def test_unknown_subscription_refused(sim: SimServer) -> None:
    ws, first = open_ws(sim, sub="nope")
    with ws:
        assert first["success"] is False


def test_new_connection_kicks_the_old(sim: SimServer) -> None:
    old, _ = open_ws(sim)
    new, first = open_ws(sim)
    assert first["success"] is True
    with pytest.raises(ConnectionClosed):
        old.recv(timeout=5)
    kicked = sim.client.wait_for("ws.kicked")[0]
    assert kicked["subscription_id"] == SUBSCRIPTION_ID
    m = sim.client.create_meeting("k@example.com", rtms="none")
    assert recv_event(new)["payload"]["object"]["uuid"] == m["meeting_uuid"]
    new.close()
    old.close()


def test_events_while_disconnected_are_lost(sim: SimServer) -> None:
    lost = sim.client.create_meeting("l@example.com", rtms="none")
    sim.client.wait_for("ws.lost", meeting_uuid=lost["meeting_uuid"])
    ws, _ = open_ws(sim)
    with ws:
        kept = sim.client.create_meeting("m@example.com", rtms="none")
        event = recv_event(ws)
        assert event["payload"]["object"]["uuid"] == kept["meeting_uuid"]  # no replay of the lost one


def test_same_event_ts_on_both_channels(hooked: SimServer, receiver: Receiver) -> None:
    ws, _ = open_ws(hooked)
    with ws:
        m = hooked.client.create_meeting("n@example.com", rtms="auto")
        got = [recv_event(ws), recv_event(ws)]
    assert [e["event"] for e in got] == ["meeting.started", "meeting.rtms_started"]
    hooks = {r.event: r.body for r in receiver.wait("meeting.rtms_started")} | {
        r.event: r.body for r in receiver.wait("meeting.started")
    }
    for e in got:
        assert hooks[e["event"]] == e  # same body, same event_ts
    assert got[1]["payload"]["meeting_uuid"] == m["meeting_uuid"]
    delivered = hooked.client.ledger(kind="ws.delivered")
    assert {d["event_ts"] for d in delivered} == {e["event_ts"] for e in got}


def test_heartbeat_timeout_closes(make_sim: Any) -> None:
    sim = make_sim(ws_heartbeat_timeout_s=20.0)  # 0.2 s real
    ws, _ = open_ws(sim)
    with ws:
        with pytest.raises(ConnectionClosed):
            while True:
                ws.recv(timeout=5)
    assert sim.client.wait_for("ws.closed")[0]["reason"] == "heartbeat_timeout"


def test_heartbeats_keep_it_open(make_sim: Any) -> None:
    sim = make_sim(ws_heartbeat_timeout_s=30.0)  # 0.3 s real
    ws, _ = open_ws(sim)
    with ws:
        import time

        end = time.monotonic() + 0.8
        while time.monotonic() < end:  # heartbeat every 0.1 s for longer than the timeout
            ws.send(json.dumps({"module": "heartbeat"}))
            assert recv_json(ws)["module"] == "heartbeat"
            time.sleep(0.1)
    assert (
        sim.client.ledger(kind="ws.closed") == []
        or sim.client.ledger(kind="ws.closed")[0]["reason"] == "client_closed"
    )


def test_open_socket_closed_when_its_token_expires(make_sim: Any) -> None:
    sim = make_sim(token_ttl_s=30.0)  # 0.3 s real
    ws, first = open_ws(sim)
    assert first["success"] is True
    with ws, pytest.raises(ConnectionClosed):
        while True:
            ws.recv(timeout=5)
    assert sim.client.wait_for("ws.closed")[0]["reason"] == "token_expired"


def test_expire_tokens_control_closes_socket(sim: SimServer) -> None:
    ws, _ = open_ws(sim)
    sim.client.expire_tokens()
    with ws, pytest.raises(ConnectionClosed):
        ws.recv(timeout=5)
    eventually(lambda: sim.client.ledger(kind="ws.closed"), what="ledger ws.closed")


def test_ws_down_window(make_sim: Any) -> None:
    sim = make_sim(time_scale=0.01)
    ws, _ = open_ws(sim)
    sim.client.ws_down(30.0)  # 0.3 s real
    with pytest.raises(ConnectionClosed):
        ws.recv(timeout=5)
    ws.close()
    with pytest.raises(InvalidStatus):
        open_ws(sim)
    m = sim.client.create_meeting("o@example.com", rtms="none")
    sim.client.wait_for("ws.lost", meeting_uuid=m["meeting_uuid"])
    assert sim.client.ledger(kind="ws.refused")[0]["reason"] == "ws_down"
    assert sim.client.ledger(kind="ws.kicked")[0]["reason"] == "ws_down"

    def reconnects() -> bool:
        try:
            ws2, first = open_ws(sim)
        except InvalidStatus:
            return False
        ws2.close()
        return bool(first["success"])

    eventually(reconnects, timeout=5, interval=0.05, what="an event socket reconnecting after ws_down")
