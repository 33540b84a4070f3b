"""Zoom's HMAC-SHA256 signatures (zoom-protocol.md §3, §4.2, §4.3)."""

from __future__ import annotations

import hashlib
import hmac


def webhook_signature(secret_token: str, timestamp: str, body: bytes) -> str:
    """`v0=` + hex(HMAC_SHA256(secret, "v0:{timestamp}:{body}"))."""
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret_token.encode(), message, hashlib.sha256).hexdigest()


def url_validation_token(secret_token: str, plain_token: str) -> str:
    """encryptedToken = hex(HMAC_SHA256(secret, plainToken))."""
    return hmac.new(secret_token.encode(), plain_token.encode(), hashlib.sha256).hexdigest()


def rtms_handshake_signature(client_id: str, client_secret: str, meeting_uuid: str, stream_id: str) -> str:
    """hex(HMAC_SHA256(client_secret, "{client_id},{meeting_uuid},{rtms_stream_id}")) — used by part 2."""
    msg = f"{client_id},{meeting_uuid},{stream_id}".encode()
    return hmac.new(client_secret.encode(), msg, hashlib.sha256).hexdigest()
