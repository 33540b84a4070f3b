"""The stall test of the worker watchdog: only work left waiting while the worker had room is a stall."""

from __future__ import annotations

from controlplane.runtime.celery_worker import StallDetector, queue_keys


def test_waiting_work_with_a_free_slot_for_a_whole_window_is_a_stall() -> None:
    detector = StallDetector(window_s=10)
    assert not detector.observe(now=0, waiting=3, free_slots=1)
    assert not detector.observe(now=9.9, waiting=3, free_slots=1)
    assert detector.observe(now=10, waiting=4, free_slots=2)


def test_a_busy_worker_is_not_stalled_however_long_work_waits() -> None:
    detector = StallDetector(window_s=10)
    for now in range(0, 100, 5):
        assert not detector.observe(now=now, waiting=50, free_slots=0)


def test_any_sample_without_waiting_work_or_without_room_starts_the_window_again() -> None:
    detector = StallDetector(window_s=10)
    detector.observe(now=0, waiting=1, free_slots=1)
    assert not detector.observe(now=8, waiting=0, free_slots=1)  # drained: the worker is consuming
    assert not detector.observe(now=12, waiting=1, free_slots=1)
    assert not detector.observe(now=20, waiting=1, free_slots=0)  # full: waiting is expected
    assert not detector.observe(now=25, waiting=1, free_slots=1)
    assert detector.observe(now=35, waiting=1, free_slots=1)


def test_a_queue_that_shrinks_is_being_consumed_even_if_it_never_empties() -> None:
    detector = StallDetector(window_s=10)
    for now, waiting in [(0, 50), (4, 52), (8, 40), (12, 45), (16, 47)]:
        assert not detector.observe(now=now, waiting=waiting, free_slots=1)
    assert detector.observe(now=22, waiting=47, free_slots=1), "nothing taken for a whole window since 8"


def test_an_unanswering_broker_is_not_a_stall() -> None:
    """Celery's own reconnect handles a broker outage; restarting on top of it would only add churn."""
    detector = StallDetector(window_s=1)
    detector.observe(now=0, waiting=1, free_slots=1)
    assert not detector.observe(now=5, waiting=None, free_slots=1)
    assert not detector.observe(now=6, waiting=1, free_slots=1)


def test_every_priority_list_of_a_queue_is_counted() -> None:
    assert queue_keys("control") == ["control", "control\x06\x163", "control\x06\x166", "control\x06\x169"]


def test_putting_back_unacked_messages_after_the_transport_let_go_does_not_kill_the_worker() -> None:
    """kombu raises AttributeError here (controlplane/runtime/kombu_redis.py); Celery would call it
    unrecoverable."""
    from contextlib import contextmanager
    from typing import Any

    from controlplane.runtime.kombu_redis import QoS

    class DetachedChannel:
        do_restore = True

        @contextmanager
        def conn_or_acquire(self, client: Any = None) -> Any:
            raise AttributeError("'NoneType' object has no attribute 'hostname'")
            yield

    qos = QoS.__new__(QoS)
    qos.channel = DetachedChannel()  # type: ignore[assignment]
    qos._delivered = {"tag-1": object()}  # type: ignore[assignment]
    qos.restore_unacked()
    assert qos._delivered == {}
