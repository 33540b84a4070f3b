"""Wall-clock helpers. Timestamps shown to clients are real UTC; durations are scaled by the config."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def now_ms() -> int:
    return int(time.time() * 1000)


def iso_z(dt: datetime) -> str:
    """Zoom's timestamp format: 2021-07-13T21:44:51Z."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def monotonic() -> float:
    return time.monotonic()
