from __future__ import annotations

import pytest

from rtms.gateway.runner import _interruption_predates


@pytest.mark.parametrize(
    ("event_ts", "ready_ms", "late"),
    [
        (1_000, 5_000, True),  # Zoom's interruption came before our last READY: we already recovered
        (6_000, 5_000, True),  # within the clock tolerance: still the one we recovered from
        (9_000, 5_000, False),  # stamped well after our READY: a new interruption, act on it
        (None, 5_000, False),  # no event time recorded: act on it
        (1_000, None, False),  # never ready: act on it
    ],
)
def test_a_late_interruption_is_told_apart_from_a_new_one(
    event_ts: int | None, ready_ms: int | None, late: bool
) -> None:
    assert _interruption_predates(event_ts, ready_ms) is late
