"""The reconciliation plan, case by case (issue #7's table). No database, no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler.core import (
    Action,
    Kind,
    KnownMeeting,
    KnownStream,
    LiveMeeting,
    Observation,
    Plan,
    Policy,
    plan,
    plan_kinds,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
POLICY = Policy(
    restart_backoff=timedelta(minutes=2),
    error_backoff=timedelta(minutes=30),
    max_restarts=3,
    restart_backoff_first=timedelta(seconds=40),
)
LIVE = LiveMeeting("u1==", 81234567890)


def stream(state: str, stop_reason: int | None = None, minutes_ago: int = 10) -> KnownStream:
    return KnownStream(state=state, stop_reason=stop_reason, created_at=NOW - timedelta(minutes=minutes_ago))


def known(**fields: object) -> KnownMeeting:
    defaults: dict[str, object] = {"pk": 1, "uuid": "u1==", "routed": True}
    defaults.update(fields)
    return KnownMeeting(**defaults)  # type: ignore[arg-type]


def run(*known_live: KnownMeeting, live: tuple[LiveMeeting, ...] = (LIVE,), complete: bool = True) -> Plan:
    return plan(Observation(complete=complete, live=live, known_live=known_live), NOW, POLICY)


def only(result: Plan) -> Action:
    assert len(result.actions) == 1, result.actions
    return result.actions[0]


def test_live_in_zoom_unknown_to_us_is_a_missed_start() -> None:
    action = only(run())
    assert (action.kind, action.meeting_uuid, action.meeting_id) == (
        Kind.CREATE_AND_START,
        "u1==",
        81234567890,
    )


def test_a_healthy_stream_needs_nothing() -> None:
    for state in ("wanted", "connecting", "connected", "interrupted", "paused"):
        assert run(known(streams=(stream(state),))).actions == ()


def test_live_with_no_stream_ever_seen_is_started() -> None:
    action = only(run(known()))
    assert action.kind is Kind.START_RTMS and not action.stop_first


def test_a_start_whose_stream_we_never_saw_is_stopped_first() -> None:
    action = only(run(known(start_called=True)))
    assert action.kind is Kind.START_RTMS and action.stop_first


def test_a_missed_start_carries_the_host_email_the_live_list_gave() -> None:
    action = only(run(live=(LiveMeeting("u1==", 81234567890, host_email="anna@eu.example.com"),)))
    assert action.kind is Kind.CREATE_AND_START and action.host_email == "anna@eu.example.com"


def test_a_stream_whose_rtms_started_waits_in_the_inbox_is_late_not_lost() -> None:
    """Stopping it first would stop the very stream we asked for."""
    action = only(run(known(start_called=True, start_event_pending=True)))
    assert action.kind is Kind.HOLD and "inbox" in action.reason


def test_our_own_stop_first_is_not_mistaken_for_a_persons_decision() -> None:
    ours = KnownStream("stopped", 2, NOW - timedelta(minutes=9), changed_at=NOW - timedelta(minutes=8))
    action = only(run(known(streams=(ours,), self_stop_at=NOW - timedelta(minutes=8, seconds=1))))
    assert action.kind is Kind.START_RTMS
    # The same USER_TRIGGERED stop before any stop of ours is someone's decision: held.
    action = only(run(known(streams=(ours,), self_stop_at=NOW - timedelta(minutes=7))))
    assert action.kind is Kind.HOLD and "never restarted" in action.reason


@pytest.mark.parametrize("reason", [10, 11, 12, 13, 14, 15, 16, 17, 19, 24])
def test_a_retryable_stop_is_restarted(reason: int) -> None:
    action = only(run(known(streams=(stream("stopped", reason),))))
    assert action.kind is Kind.START_RTMS and not action.stop_first


@pytest.mark.parametrize("reason", [1, 2, 3, 4, 5, 7, 8, 9, 20, 23])
def test_a_decision_to_stop_is_never_overridden(reason: int) -> None:
    action = only(run(known(streams=(stream("stopped", reason),))))
    assert action.kind is Kind.HOLD and "never restarted" in action.reason


@pytest.mark.parametrize("reason", [6, 18, 0, 21, 99, None])
def test_ended_authentication_failure_and_unknown_reasons_are_not_restarted(reason: int | None) -> None:
    action = only(run(known(streams=(stream("stopped", reason),))))
    assert action.kind is Kind.HOLD


def test_the_latest_stream_decides() -> None:
    streams = (stream("stopped", 1, minutes_ago=30), stream("failed", 13, minutes_ago=5))
    assert only(run(known(streams=streams))).kind is Kind.START_RTMS
    streams = (stream("stopped", 13, minutes_ago=30), stream("stopped", 1, minutes_ago=5))
    assert only(run(known(streams=streams))).kind is Kind.HOLD


def test_restarts_wait_out_the_backoff_window() -> None:
    recent = known(
        streams=(stream("stopped", 13),), restart_attempts=1, last_restart_at=NOW - timedelta(seconds=30)
    )
    assert only(run(recent)).kind is Kind.HOLD
    later = known(
        streams=(stream("stopped", 13),), restart_attempts=1, last_restart_at=NOW - timedelta(minutes=5)
    )
    assert only(run(later)).kind is Kind.START_RTMS


def test_too_many_restarts_are_flagged_for_a_person() -> None:
    action = only(run(known(streams=(stream("stopped", 13),), restart_attempts=3)))
    assert action.kind is Kind.FLAG


@pytest.mark.parametrize("code", [2308, 2310])
def test_zoom_refusals_are_retried_only_after_a_long_backoff(code: int) -> None:
    fresh = known(start_error_code=code, start_error_at=NOW - timedelta(minutes=5))
    assert only(run(fresh)).kind is Kind.HOLD
    old = known(start_error_code=code, start_error_at=NOW - timedelta(hours=1))
    assert only(run(old)).kind is Kind.START_RTMS


def test_a_quarantined_meeting_is_never_started() -> None:
    action = only(run(known(routed=False)))
    assert action.kind is Kind.HOLD and "quarantined" in action.reason


@pytest.mark.parametrize("decision", ["stopped_manually", "erased"])
def test_an_operator_stop_or_an_erasure_is_never_undone_by_a_restart(decision: str) -> None:
    for streams in [(), (stream("stopped", 6),)]:  # no stream left, or one that ended retryably
        action = only(run(known(streams=streams, **{decision: True})))
        assert action.kind is Kind.HOLD, action


def test_one_missing_observation_never_ends_a_meeting() -> None:
    action = only(run(known(), live=()))
    assert action.kind is Kind.MARK_MISSING


def test_two_consecutive_missing_observations_ask_to_confirm_the_end() -> None:
    action = only(run(known(missing_observations=1), live=()))
    assert action.kind is Kind.CONFIRM_ENDED


def test_an_incomplete_observation_ends_nothing() -> None:
    assert run(known(missing_observations=1), live=(), complete=False).actions == ()


def test_a_meeting_listed_again_resets_its_missing_count() -> None:
    result = run(known(missing_observations=1, streams=(stream("connected"),)))
    assert [a.kind for a in result.actions] == [Kind.MARK_SEEN]


def test_the_plan_is_deterministic_and_counted_by_kind() -> None:
    live = (LiveMeeting("b==", 2), LiveMeeting("a==", 1))
    first = run(live=live)
    assert first == run(live=live)
    assert [a.meeting_uuid for a in first.actions] == ["a==", "b=="]
    assert plan_kinds(first.actions) == {"create_and_start": 2}


@pytest.mark.parametrize("state", ["wanted", "connecting", "connected", "interrupted", "paused"])
def test_a_meeting_with_a_stream_active_in_the_lifecycle_table_is_left_alone(state: str) -> None:
    """The plan reads the lifecycle's own table (stored states are plain strings)."""
    from rtms.lifecycle import STREAM_ACTIVE

    assert state in STREAM_ACTIVE
    assert run(known(streams=(stream(state, None),))).actions == ()


@pytest.mark.parametrize("state", ["stopped", "failed"])
def test_a_meeting_whose_streams_all_ended_is_considered_for_a_restart(state: str) -> None:
    assert only(run(known(streams=(stream(state, 13),)))).kind is Kind.START_RTMS


def test_a_start_in_flight_is_not_doubled() -> None:
    in_flight = known(start_called=True, start_requested_at=NOW - timedelta(seconds=10))
    action = only(run(in_flight))
    assert action.kind is Kind.HOLD and "in flight" in action.reason
    stale = known(start_called=True, start_requested_at=NOW - timedelta(minutes=10))
    assert only(run(stale)).kind is Kind.START_RTMS


def test_a_stream_the_gateway_failed_is_restarted_while_zoom_lists_the_meeting_live() -> None:
    """Issue #18, cause 3: the gateway gave up (no stop reason from Zoom), the meeting is still live."""
    action = only(run(known(streams=(stream("failed", None),), start_called=True)))
    assert action.kind is Kind.START_RTMS
    # Zoom may still be streaming to nobody: stop it first, so the start gets a stream of its own.
    assert action.stop_first


def test_a_failed_stream_with_a_decision_to_stop_is_not_restarted() -> None:
    action = only(run(known(streams=(stream("failed", 1),))))
    assert action.kind is Kind.HOLD and "never restarted" in action.reason


def test_restarts_of_a_failed_stream_are_bounded() -> None:
    action = only(run(known(streams=(stream("failed", None),), restart_attempts=3)))
    assert action.kind is Kind.FLAG


def test_the_first_restart_after_a_retryable_stop_happens_at_the_next_run() -> None:
    """Issue #18: the start that gave the stream landed (its stream exists), so it is not "in flight"."""
    dropped = KnownStream("stopped", 13, NOW - timedelta(seconds=50), changed_at=NOW - timedelta(seconds=20))
    meeting = known(streams=(dropped,), start_called=True, start_requested_at=NOW - timedelta(seconds=60))
    assert only(run(meeting)).kind is Kind.START_RTMS


@pytest.mark.parametrize(
    ("attempts", "waited_s", "kind"),
    [
        (1, 30, Kind.HOLD),  # 40 s after the first restart
        (1, 45, Kind.START_RTMS),
        (2, 70, Kind.HOLD),  # 80 s after the second
        (2, 90, Kind.START_RTMS),
        (3, 10, Kind.FLAG),  # max_restarts reached: a person must look, whatever the gap
    ],
)
def test_later_restarts_back_off_exponentially_up_to_the_cap(
    attempts: int, waited_s: int, kind: Kind
) -> None:
    meeting = known(
        streams=(stream("stopped", 13),),
        restart_attempts=attempts,
        last_restart_at=NOW - timedelta(seconds=waited_s),
    )
    assert only(run(meeting)).kind is kind


def test_the_backoff_is_capped() -> None:
    policy = Policy(
        restart_backoff=timedelta(minutes=2),
        error_backoff=timedelta(minutes=30),
        max_restarts=10,
        restart_backoff_first=timedelta(seconds=40),
    )
    for waited_s, kind in ((110, Kind.HOLD), (125, Kind.START_RTMS)):  # 40 s x 2^5 would be 21 min
        meeting = known(
            streams=(stream("stopped", 13),),
            restart_attempts=6,
            last_restart_at=NOW - timedelta(seconds=waited_s),
        )
        plan_ = plan(Observation(complete=True, live=(LIVE,), known_live=(meeting,)), NOW, policy)
        assert only(plan_).kind is kind


def test_a_user_stop_right_after_our_own_start_is_zoom_replacing_the_stream_not_a_decision() -> None:
    """Issue #18, cause 1: our start met a running stream; Zoom stopped the old one (reason 2) and its
    new rtms_started was lost. That stop is not a host's decision: restart, stopping Zoom's unseen one."""
    policy = Policy(
        restart_backoff=timedelta(minutes=2),
        error_backoff=timedelta(minutes=30),
        max_restarts=3,
        own_start_window=timedelta(seconds=15),
    )
    called = NOW - timedelta(minutes=5)
    replaced = KnownStream(
        "stopped", 2, called - timedelta(minutes=1), changed_at=called + timedelta(seconds=3)
    )
    meeting = known(streams=(replaced,), start_called=True, start_called_at=called)
    action = only(plan(Observation(complete=True, live=(LIVE,), known_live=(meeting,)), NOW, policy))
    assert action.kind is Kind.START_RTMS and action.stop_first
    # The same stop a minute after our call is someone's decision.
    decided = KnownStream(
        "stopped", 2, called - timedelta(minutes=1), changed_at=called + timedelta(minutes=1)
    )
    meeting = known(streams=(decided,), start_called=True, start_called_at=called)
    action = only(plan(Observation(complete=True, live=(LIVE,), known_live=(meeting,)), NOW, policy))
    assert action.kind is Kind.HOLD and "never restarted" in action.reason


def test_a_quarantined_live_meeting_is_routed_again_with_the_live_lists_host() -> None:
    """Issue #18, cause 2: its events wait in quarantine; once a rule places it, they are applied."""
    live = LiveMeeting("u1==", 81234567890, host_email="anna@eu.example.com")
    action = only(run(known(routed=False), live=(live,)))
    assert action.kind is Kind.ROUTE and action.host_email == "anna@eu.example.com"
    assert action.meeting_pk == 1


def test_a_quarantined_meeting_the_live_list_gives_no_host_for_is_held() -> None:
    """Without the host there is nothing new to route on (and no lookup is spent every run)."""
    action = only(run(known(routed=False)))
    assert action.kind is Kind.HOLD and "quarantined" in action.reason


def test_a_start_whose_rtms_started_never_came_is_asked_again_after_the_event_window() -> None:
    """Issue #18: after a successful start call, no rtms_started within the window: stop, then start."""
    policy = Policy(
        restart_backoff=timedelta(minutes=2),
        error_backoff=timedelta(minutes=30),
        max_restarts=3,
        start_event_window=timedelta(seconds=30),
    )
    for asked_s, kind in ((20, Kind.HOLD), (40, Kind.START_RTMS)):
        meeting = known(start_called=True, start_requested_at=NOW - timedelta(seconds=asked_s))
        action = only(plan(Observation(complete=True, live=(LIVE,), known_live=(meeting,)), NOW, policy))
        assert action.kind is kind
        if kind is Kind.START_RTMS:
            assert action.stop_first  # Zoom may hold the stream whose rtms_started we lost
