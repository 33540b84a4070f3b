"""Issue #19 point 5: signed bodies that cannot be stored safely are refused with a clear 400 over the
webhook, and alike over the event WebSocket: nothing of them is stored or logged, the refusal is counted
and recorded (type, channel, reason). Before, they answered 500 (NUL, lone surrogate, deep nesting, NaN)
or were stored and failed in a worker for ever (values longer than their columns)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from rtms.inbox.receive import ingest
from rtms.models import Channel, InboundEvent, RefusedDelivery
from rtms.zoom.protocol import ProtocolError
from tests.support import event_body, meeting_payload, sign_webhook

pytestmark = pytest.mark.django_db

MARKER = "Eve-Sensitive-Marker"


def _post_signed(body: bytes) -> Any:
    signed: dict[str, Any] = sign_webhook(body)
    return Client().post("/zoom/webhook", data=body, content_type="application/json", **signed)


def _refused_count(channel: str, reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "rtms_event_deliveries_refused_total", {"channel": channel, "reason": reason}
    )
    return value or 0.0


def _nested(depth: int) -> str:
    return '{"a":' * depth + json.dumps(MARKER) + "}" * depth


def _meeting(**fields: Any) -> str:
    payload = meeting_payload("u-refused==", 81234567001)
    payload["object"].update(fields)
    return json.dumps(event_body("meeting.started", payload))


def _rtms_started(**fields: Any) -> str:
    payload = {
        "meeting_uuid": "u-refused==",
        "rtms_stream_id": "s-refused",
        "server_urls": "wss://rtms.example.com",
        "operator_id": "op",
        **fields,
    }
    return json.dumps(event_body("meeting.rtms_started", payload))


def _unknown_with_payload(payload: str) -> str:
    """An event type nobody parses: before, its payload was stored as it came."""
    return '{"event": "meeting.participant_joined", "event_ts": 1, "payload": ' + payload + "}"


def _unknown(value: str) -> str:
    return _unknown_with_payload('{"object": {"name": ' + value + "}}")


CASES = [
    # Fields nobody parses, stored raw before: what PostgreSQL or UTF-8 cannot take.
    pytest.param(_unknown(json.dumps(f"{MARKER}\u0000")), "unstorable_text", id="nul"),
    pytest.param(_unknown('"' + MARKER + '\\udcff"'), "unstorable_text", id="lone-surrogate"),
    pytest.param(_unknown(json.dumps(MARKER + "x" * 20_000)), "field_too_long", id="over-long-field"),
    pytest.param(_unknown_with_payload(_nested(60)), "too_deep", id="deep-nesting"),
    pytest.param(_unknown_with_payload(_nested(100_000)), "invalid_json", id="nesting-beyond-the-decoder"),
    pytest.param(_unknown("NaN"), "invalid_json", id="nan"),
    pytest.param(_unknown("1e999"), "invalid_json", id="infinite-number"),
    pytest.param(_unknown("1" * 5000), "invalid_json", id="integer-of-5000-digits"),
    # Parsed fields longer than their columns: stored before, then a DataError in the worker, 8 retries.
    pytest.param(_meeting(topic=MARKER + "t" * 2048), "field_too_long", id="topic-2048"),
    pytest.param(_meeting(host_id=MARKER + "h" * 100), "field_too_long", id="host-id-over-64"),
    pytest.param(_meeting(uuid=MARKER + "u" * 200), "field_too_long", id="uuid-over-128"),
    pytest.param(_rtms_started(rtms_stream_id=MARKER + "s" * 100), "field_too_long", id="stream-id-over-64"),
]


@pytest.mark.parametrize(("raw", "reason"), CASES)
def test_a_signed_body_that_cannot_be_stored_answers_400_and_only_its_refusal_is_recorded(
    raw: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = raw.encode("utf-8", "surrogatepass")
    before = _refused_count("webhook", reason)
    caplog.set_level(logging.DEBUG)

    response = _post_signed(body)

    assert response.status_code == 400, response.content[:200]
    assert MARKER not in response.content.decode()
    assert InboundEvent.objects.count() == 0
    refused = RefusedDelivery.objects.get()
    assert (refused.channel, refused.reason) == ("webhook", reason)
    assert _refused_count("webhook", reason) == before + 1
    for record in caplog.records:  # no part of the payload reaches a log, whichever logger
        assert MARKER not in record.getMessage() and MARKER not in repr(record.__dict__)


def test_the_refusal_keeps_the_event_type_in_printable_ascii_and_nothing_else() -> None:
    raw = _unknown(json.dumps(f"{MARKER}\u0000")).replace(
        "meeting.participant_joined", "meeting.participant_joined\\u202e\\u0007"
    )
    body = raw.encode()
    response = _post_signed(body)
    assert response.status_code == 400
    refused = RefusedDelivery.objects.get()
    assert refused.event_type == "meeting.participant_joined??"


def test_an_unsigned_hostile_body_is_refused_as_unsigned_and_not_recorded() -> None:
    body = _unknown(json.dumps(f"{MARKER}\u0000")).encode()
    response = Client().post("/zoom/webhook", data=body, content_type="application/json")
    assert response.status_code == 401
    assert not RefusedDelivery.objects.exists() and not InboundEvent.objects.exists()


@pytest.mark.parametrize(("raw", "reason"), CASES[:4] + CASES[8:])
def test_the_same_body_over_the_event_websocket_is_refused_alike(raw: str, reason: str) -> None:
    body = json.loads(raw.encode("utf-8", "surrogatepass"))
    before = _refused_count("websocket", reason)
    with pytest.raises(ProtocolError) as refused_with:
        ingest(body, channel=Channel.WEBSOCKET)
    assert refused_with.value.reason == reason
    assert MARKER not in str(refused_with.value)
    assert InboundEvent.objects.count() == 0
    refused = RefusedDelivery.objects.get()
    assert (refused.channel, refused.reason) == ("websocket", reason)
    assert _refused_count("websocket", reason) == before + 1


def test_a_well_formed_event_still_stores_after_the_checks() -> None:
    body = json.loads(_meeting(topic="t" * 300, host_id="h" * 64, uuid="u" * 128))
    stored = ingest(body, channel=Channel.WEBHOOK).stored
    assert stored is not None and stored.first
    assert not RefusedDelivery.objects.exists()
