"""POST /zoom/webhook, driven with payloads signed inside the test."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from rtms.inbox.publish import ROUTE_PUBLISHER
from rtms.inbox.receive import ingest
from rtms.models import Channel, InboundEvent
from tests.support import as_bytes, event_body, meeting_payload, newest_tasks, queue_length, sign_webhook

pytestmark = pytest.mark.django_db

URL = "/zoom/webhook"


def _post(body: bytes, headers: dict[str, str] | None = None, **extra: Any) -> Any:
    signed: dict[str, Any] = sign_webhook(body) if headers is None else headers
    return Client().post(URL, data=body, content_type="application/json", **signed, **extra)


def test_url_validation_is_answered_with_the_token_pair() -> None:
    body = as_bytes(event_body("endpoint.url_validation", {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}))
    response = _post(body)
    assert response.status_code == 200
    expected = hmac.new(b"test-webhook-secret-token", b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert response.json() == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}
    assert InboundEvent.objects.count() == 0


def test_a_signed_event_is_stored_once_and_enqueued_after_commit() -> None:
    before = queue_length("control")
    body = as_bytes(event_body("meeting.started", meeting_payload("u/1+==", 81234567890)))
    response = _post(body)
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    row = InboundEvent.objects.get()
    assert (row.event_type, row.status, row.first_channel, row.delivery_count) == (
        "meeting.started",
        "pending",
        "webhook",
        1,
    )
    assert row.webhook_received_at is not None and row.websocket_received_at is None
    assert row.dedupe_key == "meeting.started:u/1+==:1760000000000"
    # pytest-django wraps the test in a transaction that never commits, so nothing is published yet:
    assert queue_length("control") == before


@pytest.mark.django_db(transaction=True)
def test_the_route_task_is_published_when_the_row_commits() -> None:
    assert ROUTE_PUBLISHER.flush(10.0)  # nothing of an earlier test still on its way
    before = queue_length("control")
    body = as_bytes(event_body("meeting.started", meeting_payload("u-commit==", 81234567891)))
    assert _post(body).status_code == 200
    assert ROUTE_PUBLISHER.flush(10.0)  # the view hands the id over; the publisher's thread sends it
    assert queue_length("control") == before + 1
    assert newest_tasks("control", 1) == [("rtms.route_event", {"event_id": InboundEvent.objects.get().pk})]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing headers"),
        ({"HTTP_X_ZM_REQUEST_TIMESTAMP": "1", "HTTP_X_ZM_SIGNATURE": "v0=00"}, "stale timestamp"),
        ({"HTTP_X_ZM_REQUEST_TIMESTAMP": "soon", "HTTP_X_ZM_SIGNATURE": "v0=00"}, "bad timestamp"),
    ],
)
def test_unsigned_or_stale_webhooks_are_refused_and_nothing_is_stored(
    headers: dict[str, str], reason: str
) -> None:
    body = as_bytes(event_body("meeting.started", meeting_payload("u2==", 81234567892)))
    response = _post(body, headers)
    assert response.status_code == 401
    assert reason in response.json()["error"]
    assert InboundEvent.objects.count() == 0


def test_a_forged_signature_is_refused() -> None:
    body = as_bytes(event_body("meeting.started", meeting_payload("u3==", 81234567893)))
    forged = sign_webhook(body, secret="not-the-secret")
    assert _post(body, forged).status_code == 401
    tampered = body.replace(b"Quarterly", b"Hijacked!")
    assert _post(tampered, sign_webhook(body)).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_a_timestamp_from_the_future_beyond_tolerance_is_refused() -> None:
    body = as_bytes(event_body("meeting.started", meeting_payload("u4==", 81234567894)))
    assert _post(body, sign_webhook(body, timestamp=int(time.time()) + 3600)).status_code == 401


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "not a Zoom event"),
        (b'{"event": "meeting.started", "event_ts": 1, "payload": {}}', "payload.account_id"),
        (b'{"event": 5, "event_ts": 1, "payload": {}}', "not a Zoom event"),
        ('{"event": "x", "event_ts": "\u2603"}'.encode(), "not a Zoom event"),
    ],
)
def test_malformed_bodies_get_400_and_change_nothing(raw: bytes, message: str) -> None:
    response = _post(raw)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert InboundEvent.objects.count() == 0


def test_an_oversized_body_gets_413(settings: Any) -> None:
    settings.WEBHOOK_MAX_BODY_BYTES = 2048
    body = as_bytes(
        event_body("meeting.started", {**meeting_payload("u5==", 81234567895), "pad": "x" * 4096})
    )
    response = _post(body)
    assert response.status_code == 413
    assert InboundEvent.objects.count() == 0


def test_other_methods_get_405() -> None:
    assert Client().get(URL).status_code == 405


def test_unknown_event_types_are_stored_and_acknowledged_but_change_nothing() -> None:
    body = as_bytes(event_body("meeting.participant_joined", {"object": {"id": 1}}))
    assert _post(body).status_code == 200
    row = InboundEvent.objects.get()
    assert row.status == "ignored"


def test_hostile_strings_are_stored_verbatim_without_errors() -> None:
    payload = meeting_payload("'; DROP TABLE rtms_meeting; --", 81234567896)
    payload["object"]["topic"] = "<script>alert(1)</script> \u202e\U0001f600"
    body = as_bytes(event_body("meeting.started", payload))
    assert _post(body).status_code == 200
    assert InboundEvent.objects.get().payload["payload"]["object"]["topic"].startswith("<script>")


def test_no_secret_configured_is_503_not_500(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOM_WEBHOOK_SECRET_TOKEN", "")
    body = as_bytes(event_body("meeting.started", meeting_payload("u6==", 81234567897)))
    assert _post(body, {"HTTP_X_ZM_REQUEST_TIMESTAMP": "1", "HTTP_X_ZM_SIGNATURE": "v0=1"}).status_code == 503


def test_the_same_event_over_both_channels_is_one_row_recording_both() -> None:
    body = event_body("meeting.started", meeting_payload("u7==", 81234567898))
    assert _post(as_bytes(body)).status_code == 200
    ingest(body, channel=Channel.WEBSOCKET)
    assert _post(as_bytes(body)).status_code == 200  # a webhook retry: same body, same event_ts
    row = InboundEvent.objects.get()
    assert row.delivery_count == 3
    assert row.first_channel == "webhook"
    assert row.webhook_received_at is not None and row.websocket_received_at is not None


def test_a_new_event_ts_is_a_new_event() -> None:
    payload = meeting_payload("u8==", 81234567899)
    _post(as_bytes(event_body("meeting.started", payload, event_ts=1)))
    _post(as_bytes(event_body("meeting.started", payload, event_ts=2)))
    assert InboundEvent.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_deliveries_over_both_channels_count_as_one_event() -> None:
    body = event_body(
        "meeting.rtms_started",
        {
            "meeting_uuid": "race==",
            "operator_id": "op",
            "rtms_stream_id": "a" * 32,
            "server_urls": "wss://rtms-fra1.zoom.us/x",
        },
    )
    barrier = threading.Barrier(10)
    firsts: list[bool] = []
    errors: list[BaseException] = []

    def deliver(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            channel = Channel.WEBHOOK if i % 2 else Channel.WEBSOCKET
            result = ingest(json.loads(json.dumps(body)), channel=channel)
            assert result.stored is not None
            firsts.append(result.stored.first)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert sorted(firsts) == [False] * 9 + [True]
    row = InboundEvent.objects.get()
    assert row.delivery_count == 10
    assert row.webhook_received_at is not None and row.websocket_received_at is not None
