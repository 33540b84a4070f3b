from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controlplane import timing
from controlplane.clock import ManualClock, SystemClock


@pytest.mark.parametrize("profile", sorted(timing.PROFILES))
def test_every_profile_keeps_leases_inside_zooms_reconnect_windows(profile: str) -> None:
    lease = timing.default_seconds("STREAM_LEASE_TTL_SECONDS", profile)
    renew = timing.default_seconds("STREAM_LEASE_RENEW_SECONDS", profile)
    media_window = timing.default_seconds("RTMS_MEDIA_RECONNECT_WINDOW_SECONDS", profile)
    assert renew < lease / 2 < lease < media_window
    assert timing.default_seconds("CELERY_VISIBILITY_TIMEOUT_SECONDS", profile) < 60
    assert timing.default_seconds("INBOX_SWEEP_AFTER_SECONDS", profile) < 60


def test_every_duration_has_a_reason() -> None:
    for name, (production, fast, why) in timing.DURATIONS.items():
        assert name.endswith("_SECONDS")
        assert production > 0 and fast > 0 and why


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(datetime(2026, 5, 1, tzinfo=UTC))
    assert clock.now() == clock.now()
    assert clock.advance(timedelta(seconds=5)) == datetime(2026, 5, 1, 0, 0, 5, tzinfo=UTC)
    with pytest.raises(ValueError, match="aware"):
        ManualClock(datetime(2026, 5, 1))  # noqa: DTZ001 - the naive value is the point of the test


def test_system_clock_is_aware_utc() -> None:
    assert SystemClock().now().tzinfo is UTC
