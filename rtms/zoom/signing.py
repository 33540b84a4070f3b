"""HMAC helpers for Zoom webhooks and RTMS handshakes.

Pure functions: no I/O, no settings, no clock (callers pass ``now``). Secrets are arguments and are
never logged or put into exception messages.
"""

from __future__ import annotations

import enum
import hashlib
import hmac

__all__ = [
    "DEFAULT_TOLERANCE_S",
    "WebhookVerdict",
    "rtms_handshake_signature",
    "url_validation_response",
    "verify_webhook",
    "webhook_signature",
]

# zoom-protocol.md §4.2: Zoom states no replay window; the official sample middleware uses 300 s.
DEFAULT_TOLERANCE_S = 300

# A seconds timestamp has 10 digits until the year 2286; anything far longer is hostile, and bounding
# it keeps int() away from Python's huge-integer conversion limit.
_MAX_TIMESTAMP_DIGITS = 15

_SIGNATURE_PREFIX = "v0="


def _hmac_hex(key: str, msg: bytes) -> str:
    return hmac.new(key.encode("utf-8"), msg, hashlib.sha256).hexdigest()


class WebhookVerdict(enum.Enum):
    OK = "ok"
    MISSING_HEADERS = "missing_headers"
    BAD_TIMESTAMP = "bad_timestamp"
    STALE_TIMESTAMP = "stale_timestamp"
    BAD_SIGNATURE = "bad_signature"

    @property
    def ok(self) -> bool:
        return self is WebhookVerdict.OK


# zoom-protocol.md §4.2: the signature covers the raw request bytes. Re-serialised JSON (what the
# docs' Node example and Rivet sign) differs in whitespace and key order and would not verify.
def webhook_signature(secret: str, timestamp: str, raw_body: bytes) -> str:
    message = b"v0:" + timestamp.encode("utf-8") + b":" + raw_body
    return _SIGNATURE_PREFIX + _hmac_hex(secret, message)


# zoom-protocol.md §4.2. The checks run cheapest-first, but every path returns a verdict: the inputs
# are attacker-controlled headers, so nothing here may raise.
def verify_webhook(
    secret: str,
    timestamp_header: str | None,
    signature_header: str | None,
    raw_body: bytes,
    now: float,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> WebhookVerdict:
    if not isinstance(timestamp_header, str) or not isinstance(signature_header, str):
        return WebhookVerdict.MISSING_HEADERS
    if not timestamp_header or not signature_header:
        return WebhookVerdict.MISSING_HEADERS
    # isdigit() alone accepts non-ASCII digits such as "²", which int() then rejects.
    if (
        not timestamp_header.isascii()
        or not timestamp_header.isdigit()
        or len(timestamp_header) > _MAX_TIMESTAMP_DIGITS
    ):
        return WebhookVerdict.BAD_TIMESTAMP
    timestamp = int(timestamp_header)
    # Written as "not <=" so that a NaN clock counts as stale instead of slipping through.
    if not abs(now - timestamp) <= tolerance_s:
        return WebhookVerdict.STALE_TIMESTAMP
    # An empty secret would let anyone forge a signature; fail closed on that misconfiguration.
    if not secret:
        return WebhookVerdict.BAD_SIGNATURE
    # compare_digest raises TypeError on non-ASCII str, so compare bytes, and reject non-ASCII early:
    # a valid signature is always ASCII.
    if not signature_header.isascii():
        return WebhookVerdict.BAD_SIGNATURE
    expected = webhook_signature(secret, timestamp_header, raw_body)
    if not hmac.compare_digest(expected.encode("ascii"), signature_header.encode("ascii")):
        return WebhookVerdict.BAD_SIGNATURE
    return WebhookVerdict.OK


# zoom-protocol.md §4.3: the CRC answer proves we hold the secret token.
def url_validation_response(secret: str, plain_token: str) -> dict[str, str]:
    return {
        "plainToken": plain_token,
        "encryptedToken": _hmac_hex(secret, plain_token.encode("utf-8")),
    }


# zoom-protocol.md §3: comma-separated, no spaces, lowercase hex. For webinars the "meeting_uuid"
# argument is the webinar_uuid, which the handshake also carries in its meeting_uuid key (§2.3).
def rtms_handshake_signature(
    client_id: str, client_secret: str, meeting_uuid: str, rtms_stream_id: str
) -> str:
    message = f"{client_id},{meeting_uuid},{rtms_stream_id}".encode()
    return _hmac_hex(client_secret, message)
