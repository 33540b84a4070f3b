"""API tokens: high-entropy, shown once, stored only as a SHA-256 hash.

A token reads ``rtms_<prefix>_<secret>``. The prefix is not secret: it finds the row without a scan and
shows up in the admin so an operator can tell tokens apart. The secret carries 256 bits of entropy, so a
fast hash is enough (a slow password hash protects low-entropy secrets, which this is not); hashes are
compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Final

TOKEN_PREFIX: Final = "rtms"
_SHAPE: Final = re.compile(r"^rtms_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class NewToken:
    token: str  # shown once to whoever created the client, never stored
    prefix: str
    token_hash: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_new() -> NewToken:
    prefix = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewToken(token=token, prefix=prefix, token_hash=token_hash(token))


def token_prefix_of(token: str) -> str | None:
    """The lookup prefix of a well-formed token, or None: a malformed token never reaches the database."""
    match = _SHAPE.match(token)
    return match.group(1) if match else None


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(token), stored_hash)
