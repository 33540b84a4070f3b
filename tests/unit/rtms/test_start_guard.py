"""The one guard list for starting RTMS (rtms/start_guard.py): every reason, in order, for every starter."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from rtms.start_guard import Refusal, Starter, StartFacts, start_refusal, stopped_by_us

STARTABLE = StartFacts(
    live=True,
    routed=True,
    erased=False,
    stopped_manually=False,
    active_stream=False,
    last_stop_reason=None,
    has_streams=False,
    last_stopped_by_us=False,
)
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("starter", list(Starter))
def test_a_live_routed_meeting_without_a_stream_may_be_started_by_anyone(starter: Starter) -> None:
    assert start_refusal(STARTABLE, starter) is None


@pytest.mark.parametrize("starter", list(Starter))
@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"live": False}, Refusal.NOT_LIVE),
        ({"routed": False}, Refusal.QUARANTINED),
        ({"erased": True}, Refusal.ERASED),
        ({"active_stream": True}, Refusal.STREAM_EXISTS),
        ({"has_streams": True, "last_stop_reason": 1}, Refusal.CONSENT),  # the host stopped it
    ],
)
def test_every_starter_is_refused_for_the_same_reasons(
    starter: Starter, change: dict[str, object], refusal: Refusal
) -> None:
    refused = start_refusal(replace(STARTABLE, **change), starter)  # type: ignore[arg-type]
    assert refused is not None and refused.refusal is refusal and refused.message


def test_an_erasure_outranks_everything_after_it_in_the_list() -> None:
    refused = start_refusal(replace(STARTABLE, erased=True, active_stream=True), Starter.OPERATOR)
    assert refused is not None and refused.refusal is Refusal.ERASED


def test_only_an_operator_undoes_an_operators_stop() -> None:
    stopped = replace(STARTABLE, stopped_manually=True, has_streams=True, last_stop_reason=2)
    assert start_refusal(stopped, Starter.OPERATOR) is None  # the reason 2 records the operator's own stop
    for starter in (Starter.INGEST, Starter.RECONCILER):
        refused = start_refusal(stopped, starter)
        assert refused is not None and refused.refusal is Refusal.STOPPED_MANUALLY


def test_our_own_stop_is_not_a_persons_decision() -> None:
    ours = replace(STARTABLE, has_streams=True, last_stop_reason=2, last_stopped_by_us=True)
    assert start_refusal(ours, Starter.RECONCILER) is None


def test_a_user_stop_after_our_stop_before_a_restart_is_ours() -> None:
    assert stopped_by_us(2, T0 + timedelta(seconds=1), self_stop_at=T0)
    assert not stopped_by_us(2, T0 - timedelta(seconds=1), self_stop_at=T0)
    assert not stopped_by_us(1, T0 + timedelta(seconds=1), self_stop_at=T0)  # the host's own reason


def test_a_user_stop_within_the_window_after_our_own_start_is_zoom_replacing_the_stream() -> None:
    window = timedelta(seconds=15)
    assert stopped_by_us(2, T0 + timedelta(seconds=3), None, own_start_at=T0, window=window)
    assert not stopped_by_us(2, T0 + timedelta(seconds=30), None, own_start_at=T0, window=window)
    assert not stopped_by_us(2, T0 - timedelta(seconds=3), None, own_start_at=T0, window=window)
    assert not stopped_by_us(2, T0 + timedelta(seconds=3), None, own_start_at=T0)  # no window: never
