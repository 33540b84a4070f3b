"""Field validation shared by the parsers, and the one error they raise.

Parsers take decoded JSON (``object``) from the network, so every input is hostile: anything malformed
raises :class:`ProtocolError`, never another exception. Error messages name the offending field but
never echo its value, which may be personal data or huge. Bounds exist so that a hostile body cannot
make us store or key on megabytes. The ``_``-prefixed helpers are private to this package.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final, TypeVar

__all__ = ["ProtocolError"]


class ProtocolError(ValueError):
    """Input that does not follow the Zoom protocol. The message names the field, not its value; ``reason``
    is a short code for metrics and records (one of ``REASONS``)."""

    def __init__(self, message: str, *, reason: str = "malformed") -> None:
        super().__init__(message)
        self.reason = reason


# Why a body was refused: a label value of rtms_event_deliveries_refused_total, kept on the refusal record.
REASONS: Final = (
    "malformed",  # not the shape of a Zoom event
    "invalid_json",  # not JSON at all, or numbers JSON cannot carry (NaN, Infinity, 4300+ digits)
    "too_deep",  # nested deeper than any Zoom body
    "field_too_long",  # a string longer than its column, or than any Zoom field
    "unstorable_text",  # NUL or a lone surrogate: PostgreSQL cannot store it, UTF-8 cannot encode it
)


_INT64_MAX: Final = 2**63 - 1
_INT64_MIN: Final = -(2**63)
_INT32_MAX: Final = 2**31 - 1
_INT32_MIN: Final = -(2**31)
_MAX_EVENT_NAME: Final = 128
_MAX_ID: Final = 256
_MAX_TEXT: Final = 2048
_MAX_URL: Final = 2048
_MAX_SERVER_URLS: Final = 8192
_MAX_MEETING_ID_DIGITS: Final = 19

# The columns these values are stored in (rtms/models/meetings.py, accounts.py); a longer value is no
# Zoom value, and refusing it here beats a DataError in a worker, retried until the event fails.
# tests/unit/rtms/zoom/test_protocol_limits.py keeps the two in step.
MAX_MEETING_UUID: Final = 128
MAX_STREAM_ID: Final = 64
MAX_HOST_ID: Final = 64
MAX_ACCOUNT_ID: Final = 64
MAX_TOPIC: Final = 300  # Zoom's own limit is 200 characters
MAX_EMAIL: Final = 320

_UNSTORABLE: Final = re.compile("[\x00\ud800-\udfff]")

_E = TypeVar("_E", bound=enum.IntEnum)


def _require_dict(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ProtocolError(f"{where}: expected an object")
    # JSON objects only ever have string keys; anything else was not decoded from JSON.
    if not all(isinstance(k, str) for k in value):
        raise ProtocolError(f"{where}: expected string keys")
    return value


def _int(
    obj: Mapping[str, object], key: str, where: str, *, lo: int = _INT64_MIN, hi: int = _INT64_MAX
) -> int:
    value = obj.get(key)
    # bool is an int subclass, and true/false are never valid numbers in this protocol.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(f"{where}.{key}: expected an integer")
    if not lo <= value <= hi:
        raise ProtocolError(f"{where}.{key}: out of range")
    return value


def _opt_int(
    obj: Mapping[str, object], key: str, where: str, *, lo: int = _INT64_MIN, hi: int = _INT64_MAX
) -> int | None:
    if obj.get(key) is None:
        return None
    return _int(obj, key, where, lo=lo, hi=hi)


def _str(obj: Mapping[str, object], key: str, where: str, *, max_len: int = _MAX_TEXT) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ProtocolError(f"{where}.{key}: expected a string")
    if len(value) > max_len:
        raise ProtocolError(f"{where}.{key}: too long", reason="field_too_long")
    # PostgreSQL text cannot hold NUL, and a lone surrogate (which "\udcff" in JSON decodes to)
    # cannot be encoded as UTF-8 at all; both would fail later, far from here.
    if _UNSTORABLE.search(value):
        raise ProtocolError(f"{where}.{key}: contains NUL or a lone surrogate", reason="unstorable_text")
    return value


def _opt_str(obj: Mapping[str, object], key: str, where: str, *, max_len: int = _MAX_TEXT) -> str | None:
    if obj.get(key) is None:
        return None
    return _str(obj, key, where, max_len=max_len)


def _id(obj: Mapping[str, object], key: str, where: str, *, max_len: int = _MAX_ID) -> str:
    """An opaque Zoom identifier: non-empty, bounded, printable (it ends up in keys, URLs and logs)."""
    value = _str(obj, key, where, max_len=max_len)
    if not value or not value.isprintable():
        raise ProtocolError(f"{where}.{key}: expected a non-empty printable identifier")
    return value


def _opt_id(obj: Mapping[str, object], key: str, where: str, *, max_len: int = _MAX_ID) -> str | None:
    if obj.get(key) is None:
        return None
    return _id(obj, key, where, max_len=max_len)


# zoom-protocol.md §4.6: meeting ids are numeric, but Rivet and the doc example type `object.id` as a
# string, so both spellings are accepted. Only ASCII digits: str.isdigit() also accepts "²".
def _numeric_id(obj: Mapping[str, object], key: str, where: str, *, lo: int) -> int:
    value = obj.get(key)
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit() and len(value) <= _MAX_MEETING_ID_DIGITS):
            raise ProtocolError(f"{where}.{key}: expected a numeric id")
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise ProtocolError(f"{where}.{key}: expected a numeric id")
    if not lo <= number <= _INT64_MAX:
        raise ProtocolError(f"{where}.{key}: out of range")
    return number


def _meeting_id(obj: Mapping[str, object], key: str, where: str) -> int:
    return _numeric_id(obj, key, where, lo=1)


def _opt_meeting_id(obj: Mapping[str, object], key: str, where: str) -> int | None:
    if obj.get(key) is None:
        return None
    return _meeting_id(obj, key, where)


def _known(enum_cls: type[_E], value: int) -> _E | int:
    """The enum member when Zoom sends a value we know; the bare int when it sends a newer one."""
    try:
        return enum_cls(value)
    except ValueError:
        return value


def _opt_datetime(obj: Mapping[str, object], key: str, where: str) -> datetime | None:
    raw = _opt_str(obj, key, where, max_len=64)
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
        # Zoom sends UTC with a "Z"; a string without an offset is read as UTC, not local time.
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        # Shifting year 1 or 9999 by an offset leaves datetime's range (OverflowError).
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ProtocolError(f"{where}.{key}: expected an ISO 8601 date-time") from None
