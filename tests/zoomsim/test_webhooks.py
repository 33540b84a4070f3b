"""Webhook delivery: URL validation first, signatures, Zoom's retry schedule (scaled), timeouts."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from tests.eventually import eventually
from tests.zoomsim.conftest import WEBHOOK_SECRET, Receiver
from zoomsim.testing import SimServer, free_port


def valid_sig(req: Any) -> bool:
    msg = b"v0:" + req.headers["x-zm-request-timestamp"].encode() + b":" + req.raw
    return bool(
        req.headers["x-zm-signature"]
        == "v0=" + hmac.new(WEBHOOK_SECRET.encode(), msg, hashlib.sha256).hexdigest()
    )


def test_url_validation_comes_first_and_is_signed(make_sim: Any, receiver: Receiver) -> None:
    sim = make_sim(webhook_url=receiver.url)
    sim.client.create_meeting("a@example.com", rtms="none")  # may race the validation: must still go second
    receiver.wait("meeting.started")
    first = receiver.received[0]
    assert first.event == "endpoint.url_validation"
    assert valid_sig(first) and set(first.body["payload"]) == {"plainToken"}
    (entry,) = sim.client.ledger(kind="webhook.validation")
    assert entry["ok"] is True and entry["outcome"] == "ok"


def test_failed_validation_is_recorded_and_delivery_continues(make_sim: Any, receiver: Receiver) -> None:
    receiver.validation = "wrong"
    sim = make_sim(webhook_url=receiver.url)
    sim.client.create_meeting("a@example.com", rtms="none")
    receiver.wait("meeting.started")
    (entry,) = sim.client.ledger(kind="webhook.validation")
    assert entry["ok"] is False and entry["outcome"] == "bad_token"
    receiver.validation = "ok"
    assert sim.client.validate_webhook() is True


def test_retry_schedule_same_body_fresh_signature(make_sim: Any, receiver: Receiver) -> None:
    scale = 0.0005  # +5 min, +20 min, +60 min -> 0.15 s, 0.6 s, 1.8 s
    receiver.plan["meeting.started"] = [500, 503, 200]
    sim = make_sim(webhook_url=receiver.url, time_scale=scale)
    sim.client.create_meeting("b@example.com", rtms="none")
    got = receiver.wait("meeting.started", count=3, timeout=10)
    assert got[0].raw == got[1].raw == got[2].raw  # same body, so the same event_ts
    assert len({g.headers["x-zm-request-id"] for g in got}) == 3
    assert all(valid_sig(g) for g in got)
    gaps = [got[1].at - got[0].at, got[2].at - got[1].at]
    assert 300 * scale <= gaps[0] < 300 * scale + 0.5
    assert 1200 * scale <= gaps[1] < 1200 * scale + 0.5
    attempts = sim.client.ledger(kind="webhook.attempt", event="meeting.started")
    assert [(a["attempt"], a["status"], a["outcome"], a["will_retry"]) for a in attempts] == [
        (1, 500, "failed", True),
        (2, 503, "failed", True),
        (3, 200, "delivered", False),
    ]
    assert [a["next_retry_in_s"] for a in attempts[:2]] == [300.0, 1200.0]
    assert len({a["event_ts"] for a in attempts}) == 1


def test_gives_up_after_three_retries(make_sim: Any, receiver: Receiver) -> None:
    receiver.plan["meeting.started"] = [500] * 10
    sim = make_sim(webhook_url=receiver.url, time_scale=0.0002)
    sim.client.create_meeting("c@example.com", rtms="none")
    (gave_up,) = sim.client.wait_for("webhook.gave_up", timeout=10)
    assert gave_up["attempts"] == 4 and gave_up["event"] == "meeting.started"
    assert len(receiver.events("meeting.started")) == 4


def test_no_retry_on_4xx_or_3xx(make_sim: Any, receiver: Receiver) -> None:
    receiver.plan["meeting.started"] = [404]
    receiver.plan["meeting.ended"] = [302]
    sim = make_sim(webhook_url=receiver.url, time_scale=0.0002)
    m = sim.client.create_meeting("d@example.com", rtms="none")
    sim.client.end_meeting(m["meeting_uuid"])
    attempts = sim.client.wait_for("webhook.attempt", count=2)
    assert {(a["event"], a["outcome"], a["will_retry"]) for a in attempts} == {
        ("meeting.started", "rejected", False),
        ("meeting.ended", "rejected", False),
    }
    # A later event is delivered after the first retry would have happened (+5 min = 0.06 s): still one each.
    sim.client.create_meeting("later@example.com", rtms="none")
    eventually(lambda: len(receiver.events("meeting.started")) == 2, what="2 x meeting.started webhook")
    sim.client.wait_for("webhook.attempt", count=3)
    import time

    time.sleep(0.1)  # past the (scaled) first retry time; proving an absence needs a bounded wait
    assert len(receiver.events("meeting.ended")) == 1 and len(receiver.events("meeting.started")) == 2
    assert sim.client.ledger(kind="webhook.gave_up") == []


def test_timeout_counts_as_failure(make_sim: Any, receiver: Receiver) -> None:
    receiver.plan["meeting.started"] = [("sleep", 0.6, 200), 200]
    # The 3 s timeout is never scaled; zoomsim's own tests override it to stay fast.
    sim = make_sim(webhook_url=receiver.url, time_scale=0.0005, webhook_timeout_real_s=0.2)
    sim.client.create_meeting("e@example.com", rtms="none")
    attempts = sim.client.wait_for("webhook.attempt", count=2, event="meeting.started", timeout=10)
    assert [a["outcome"] for a in attempts] == ["timeout", "delivered"]
    assert attempts[0]["will_retry"] is True


def test_connection_error_is_retried(make_sim: Any) -> None:
    sim = make_sim(webhook_url=f"http://127.0.0.1:{free_port()}/hook", time_scale=0.0002)
    sim.client.create_meeting("f@example.com", rtms="none")
    entries = sim.client.wait_for("webhook.attempt", count=4, timeout=10)
    assert all(e["outcome"].startswith("connection_error") for e in entries)
    sim.client.wait_for("webhook.gave_up")


def test_a_retrying_event_does_not_block_later_events(make_sim: Any, receiver: Receiver) -> None:
    receiver.plan["meeting.started"] = [500, 200]
    sim = make_sim(webhook_url=receiver.url, time_scale=0.002)  # first retry after 0.6 s
    m = sim.client.create_meeting("g@example.com", rtms="none")
    sim.client.end_meeting(m["meeting_uuid"])
    receiver.wait("meeting.started", count=2, timeout=10)
    order = [r.event for r in receiver.received if r.event != "endpoint.url_validation"]
    # Deliveries are concurrent (their first attempts may arrive in either order); the retry comes last.
    assert sorted(order[:2]) == ["meeting.ended", "meeting.started"] and order[2] == "meeting.started"


def test_set_webhook_url_at_runtime_validates(sim: SimServer, receiver: Receiver) -> None:
    assert sim.client.set_webhook_url(receiver.url)["validated"] is True
    sim.client.create_meeting("h@example.com", rtms="none")
    receiver.wait("meeting.started")
    assert [r.event for r in receiver.received] == ["endpoint.url_validation", "meeting.started"]
