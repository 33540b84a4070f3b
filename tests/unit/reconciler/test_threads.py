"""reconciler/threads.py: repairs handed out to a few threads, with a deadline and errors kept."""

from __future__ import annotations

import threading
import time

import pytest

from reconciler.threads import apply_each


def test_every_item_is_applied_once_across_several_threads() -> None:
    barrier = threading.Barrier(3, timeout=10)
    names: list[str] = []

    def work(item: int) -> int:
        if item < 3:
            barrier.wait()  # the first three items are in flight at once, on three threads
        names.append(threading.current_thread().name)
        return item * 10

    applied = apply_each(list(range(12)), work, threads=3, deadline=time.monotonic() + 60)
    assert sorted(applied.results) == [i * 10 for i in range(12)] and applied.deferred == 0
    assert len(set(names)) == 3 and all(n.startswith("reconcile-repair") for n in names)


def test_items_not_begun_by_the_deadline_are_deferred() -> None:
    applied = apply_each([1, 2, 3], lambda i: i, threads=2, deadline=time.monotonic() - 1)
    assert applied.results == [] and applied.deferred == 3


def test_an_unexpected_error_stops_the_hand_out_and_reaches_the_caller() -> None:
    done: list[int] = []

    def work(item: int) -> int:
        if item == 0:
            raise RuntimeError("boom")
        time.sleep(0.01)
        done.append(item)
        return item

    with pytest.raises(RuntimeError, match="boom"):
        apply_each(list(range(100)), work, threads=2, deadline=time.monotonic() + 60)
    assert len(done) < 99  # the rest were never handed out


def test_one_thread_or_one_item_runs_on_the_callers_thread() -> None:
    caller = threading.current_thread().name
    seen: list[str] = []
    apply_each(
        [1], lambda i: seen.append(threading.current_thread().name), threads=4, deadline=time.monotonic() + 9
    )
    apply_each(
        [1, 2],
        lambda i: seen.append(threading.current_thread().name),
        threads=1,
        deadline=time.monotonic() + 9,
    )
    assert seen == [caller] * 3
