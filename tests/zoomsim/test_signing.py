"""Known-answer vectors computed independently with openssl (commands cited per vector)."""

from __future__ import annotations

import json

from tests.zoomsim.conftest import WEBHOOK_SECRET, Receiver
from zoomsim.signing import rtms_handshake_signature, url_validation_token, webhook_signature
from zoomsim.testing import SimServer

KA_SECRET = "zoomsim-known-answer-secret"
KA_BODY = b'{"event":"meeting.started","event_ts":1739923528123,"payload":{"account_id":"AAAA"}}'


def test_webhook_signature_known_answer() -> None:
    # printf '%s' \
    #   'v0:1739923528:{"event":"meeting.started","event_ts":1739923528123,"payload":{"account_id":"AAAA"}}' \
    #   | openssl dgst -sha256 -hmac 'zoomsim-known-answer-secret'
    expected = "v0=cc3a1b3d64dec0f532717fe6f3dce6db871cf7bb539ea2ed6537e93e435815a8"
    assert webhook_signature(KA_SECRET, "1739923528", KA_BODY) == expected


def test_url_validation_known_answer() -> None:
    # printf '%s' 'qgg8vlvZRS6UYooatFL8Aw' | openssl dgst -sha256 -hmac 'zoomsim-known-answer-secret'
    expected = "683e53790651385a82d65f68327a12c1171bde6ef2ab69196df14887c6652c03"
    assert url_validation_token(KA_SECRET, "qgg8vlvZRS6UYooatFL8Aw") == expected


def test_rtms_handshake_known_answer() -> None:
    # printf '%s' 'client123,4444AAAiAAAAAiAiAiiAii==,609340fb2a7946909659956c8aa9250c' \
    #   | openssl dgst -sha256 -hmac 'secret456'
    expected = "6400ef1710177f18b60ffc98dd1942fa59fb3cc878f0b5522402d29fbe76c994"
    got = rtms_handshake_signature(
        "client123", "secret456", "4444AAAiAAAAAiAiAiiAii==", "609340fb2a7946909659956c8aa9250c"
    )
    assert got == expected


def _independent_sig(secret: str, ts: str, raw: bytes) -> str:
    import hashlib
    import hmac

    return "v0=" + hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256).hexdigest()


def test_delivered_webhooks_verify_over_raw_body(hooked: SimServer, receiver: Receiver) -> None:
    hooked.client.create_meeting("carol@example.com", rtms="none")
    (req,) = receiver.wait("meeting.started")
    h = req.headers
    assert h["x-zm-signature"] == _independent_sig(WEBHOOK_SECRET, h["x-zm-request-timestamp"], req.raw)
    assert h["content-type"] == "application/json; charset=utf-8"
    assert h["user-agent"] == "Zoom Marketplace/1.0a"
    assert len(h["x-zm-request-timestamp"]) == 10  # seconds, not ms
    assert h["x-zm-request-id"] and h["x-zm-trackingid"]
    assert json.loads(req.raw)["event_ts"] > 10**12  # ms
