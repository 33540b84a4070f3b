"""Identifiers shaped like Zoom's."""

from __future__ import annotations

import base64
import hashlib
import secrets


def meeting_uuid() -> str:
    """Base64 (standard alphabet, padded) of 16 random bytes: may contain '/', '+', '='."""
    return base64.b64encode(secrets.token_bytes(16)).decode("ascii")


def meeting_number() -> int:
    """A 10-11 digit meeting id."""
    return 10**9 + secrets.randbelow(10**11 - 10**9)


def stream_id() -> str:
    """A 32-hex rtms_stream_id."""
    return secrets.token_hex(16)


def user_id_for(email: str) -> str:
    """A stable user id for an e-mail (22 chars, base64url like Zoom's user ids)."""
    digest = hashlib.sha256(("zoomsim-user:" + email.lower()).encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def request_id() -> str:
    """Like 6009d653_d487_445d_8406_42b654974899."""
    h = secrets.token_hex(16)
    return "_".join((h[:8], h[8:12], h[12:16], h[16:20], h[20:]))


def tracking_id() -> str:
    return "v=2.0;clid=us06;rid=WEB_" + secrets.token_hex(16)
