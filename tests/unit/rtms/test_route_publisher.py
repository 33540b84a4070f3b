"""The route publisher: ids handed over by requests reach the broker from one background thread, batched."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence

import pytest

from rtms import metrics
from rtms.inbox.publish import RoutePublisher

DEADLINE_S = 10.0


class RecordingSend:
    def __init__(self, *, gate: threading.Event | None = None, fail_first: int = 0) -> None:
        self.batches: list[list[int]] = []
        self.gate = gate
        self.fail_first = fail_first
        self.entered = threading.Event()

    def __call__(self, event_ids: Sequence[int]) -> None:
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(DEADLINE_S)
        if self.fail_first > 0:
            self.fail_first -= 1
            raise ConnectionError("broker down")
        self.batches.append(list(event_ids))

    @property
    def sent(self) -> list[int]:
        return [event_id for batch in self.batches for event_id in batch]


def _failures(reason: str) -> float:
    return float(metrics.ENQUEUE_FAILURES.labels(reason)._value.get())


def test_a_single_id_is_sent_alone_and_flush_waits_for_it() -> None:
    send = RecordingSend()
    publisher = RoutePublisher(send, linger_s=0.0)
    publisher.submit(7)
    assert publisher.flush(DEADLINE_S)
    assert send.batches == [[7]]


def test_ids_that_gather_while_a_publish_is_under_way_go_out_together_in_order() -> None:
    gate = threading.Event()
    send = RecordingSend(gate=gate)
    publisher = RoutePublisher(send, linger_s=0.0)
    publisher.submit(1)
    assert send.entered.wait(DEADLINE_S)  # the thread is inside the first publish
    for event_id in range(2, 12):
        publisher.submit(event_id)
    gate.set()
    assert publisher.flush(DEADLINE_S)
    assert send.batches == [[1], list(range(2, 12))]


def test_a_batch_never_exceeds_the_limit() -> None:
    gate = threading.Event()
    send = RecordingSend(gate=gate)
    publisher = RoutePublisher(send, max_batch=4, linger_s=0.0)
    publisher.submit(0)
    assert send.entered.wait(DEADLINE_S)
    for event_id in range(1, 11):
        publisher.submit(event_id)
    gate.set()
    assert publisher.flush(DEADLINE_S)
    assert send.sent == list(range(11))
    assert max(len(batch) for batch in send.batches) == 4


def test_the_linger_gathers_ids_submitted_shortly_after_the_first() -> None:
    send = RecordingSend()
    publisher = RoutePublisher(send, linger_s=2.0)
    publisher.submit(1)
    publisher.submit(2)
    publisher.submit(3)
    assert publisher.flush(DEADLINE_S)
    assert send.batches == [[1, 2, 3]]


def test_flush_does_not_wait_out_the_linger() -> None:
    send = RecordingSend()
    publisher = RoutePublisher(send, linger_s=60.0)
    publisher.submit(1)
    assert publisher.flush(DEADLINE_S)  # would time out if the thread lingered for 60 s
    assert send.batches == [[1]]


def test_a_failed_publish_is_counted_and_the_thread_goes_on() -> None:
    send = RecordingSend(fail_first=1)
    publisher = RoutePublisher(send, linger_s=0.0)
    before = _failures("broker")
    publisher.submit(1)
    assert publisher.flush(DEADLINE_S)
    publisher.submit(2)
    assert publisher.flush(DEADLINE_S)
    assert send.batches == [[2]]  # 1 is left to the inbox sweeper
    assert _failures("broker") == before + 1


def test_when_too_many_ids_wait_the_newest_are_dropped_not_blocked_on() -> None:
    gate = threading.Event()
    send = RecordingSend(gate=gate)
    publisher = RoutePublisher(send, max_waiting=3, linger_s=0.0)
    before = _failures("overflow")
    publisher.submit(0)
    assert send.entered.wait(DEADLINE_S)  # 0 is being published; the queue is empty again
    started = time.monotonic()
    for event_id in range(1, 6):
        publisher.submit(event_id)
    assert time.monotonic() - started < DEADLINE_S  # submit never blocks on a full queue
    gate.set()
    assert publisher.flush(DEADLINE_S)
    assert send.sent == [0, 1, 2, 3]
    assert _failures("overflow") == before + 2


def test_flush_before_any_submit_returns_at_once() -> None:
    assert RoutePublisher(RecordingSend()).flush(0.0)


def test_a_forked_child_starts_its_own_thread_with_an_empty_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    send = RecordingSend(gate=gate)
    publisher = RoutePublisher(send, linger_s=0.0)
    publisher.submit(1)
    assert send.entered.wait(DEADLINE_S)
    publisher.submit(2)  # waits in the "parent's" queue
    parent_pid = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: parent_pid + 1)
    publisher.submit(3)  # the "child": a new queue and thread, without the parent's 2
    gate.set()
    assert publisher.flush(DEADLINE_S)
    deadline = time.monotonic() + DEADLINE_S
    while sorted(send.sent) != [1, 2, 3] and time.monotonic() < deadline:
        time.sleep(0.01)  # the parent's thread still publishes what it held
    assert sorted(send.sent) == [1, 2, 3]
    assert [3] in send.batches and [2, 3] not in send.batches


def test_a_child_forked_while_a_thread_held_the_lock_can_still_submit() -> None:
    send = RecordingSend()
    publisher = RoutePublisher(send, linger_s=0.0)
    held, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with publisher._lock:
            held.set()
            release.wait(DEADLINE_S)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert held.wait(DEADLINE_S)
    child = os.fork()
    if child == 0:  # the child: the holder thread does not exist here
        try:
            publisher.submit(7)
            os._exit(0 if publisher.flush(DEADLINE_S) and send.sent == [7] else 1)
        finally:
            os._exit(2)
    release.set()
    holder.join(DEADLINE_S)
    deadline = time.monotonic() + DEADLINE_S
    while (waited := os.waitpid(child, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.01)
    if waited == (0, 0):
        os.kill(child, 9)
        os.waitpid(child, 0)
    assert waited[0] == child and os.waitstatus_to_exitcode(waited[1]) == 0


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the SystemExit
def test_a_publisher_thread_ended_by_a_base_exception_is_started_again_on_the_next_submit() -> None:
    calls: list[list[int]] = []

    def send(event_ids: Sequence[int]) -> None:
        calls.append(list(event_ids))
        if len(calls) == 1:
            raise SystemExit  # not an Exception: it ends the thread

    publisher = RoutePublisher(send, linger_s=0.0)
    publisher.submit(1)
    deadline = time.monotonic() + DEADLINE_S
    while (publisher._thread is None or publisher._thread.is_alive()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert publisher._thread is not None and not publisher._thread.is_alive()
    publisher.submit(2)
    assert publisher.flush(DEADLINE_S)
    assert calls == [[1], [2]]
