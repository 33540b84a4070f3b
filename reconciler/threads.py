"""Applying a run's repairs on a few threads, each with its own database connection.

A repair (create, route, start) is a handful of database round trips and one or two Zoom calls, and the
start calls are paced across every process (rtms/zoom_pacing.py). Applied one after another, the round trips
alone held a run to 12-30 repairs a second, far below Zoom's limit, and 1000 missed starts took eight runs;
on a few threads they overlap and the pacing sets the speed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.db import connections

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(frozen=True)
class Applied(Generic[Result]):
    results: list[Result]
    deferred: int  # items not begun before the deadline


def _in_transaction() -> bool:
    # Threads have their own connections and cannot see the rows of a transaction this thread holds open
    # (a test's, or a caller's atomic block): then everything runs here, on this thread's connection.
    return any(conn.in_atomic_block for conn in connections.all(initialized_only=True))


def apply_each(
    items: Sequence[Item], work: Callable[[Item], Result], *, threads: int, deadline: float
) -> Applied[Result]:
    """``work(item)`` for every item, on up to ``threads`` threads, in order of hand-out. An item not begun
    by ``deadline`` (``time.monotonic()``) is skipped and counted. ``work`` handles its own expected
    errors; any other exception stops the hand-out and is raised here once the threads are done."""
    if threads <= 1 or len(items) <= 1 or _in_transaction():
        return _inline(items, work, deadline)
    lock = threading.Lock()
    pending = iter(items)
    results: list[Result] = []
    deferred = 0
    failures: list[BaseException] = []

    def take() -> tuple[bool, Item | None]:
        nonlocal deferred
        with lock:
            while not failures:
                item = next(pending, _END)
                if item is _END:
                    return False, None
                if time.monotonic() > deadline:
                    deferred += 1
                    continue
                return True, item  # type: ignore[return-value]
            return False, None

    def worker() -> None:
        try:
            while True:
                more, item = take()
                if not more:
                    return
                result = work(item)  # type: ignore[arg-type]
                with lock:
                    results.append(result)
        except BaseException as exc:  # raised by the caller below, after every thread stopped
            with lock:
                failures.append(exc)
        finally:
            connections.close_all()  # back to the pool: this thread is about to end

    count = min(threads, len(items))
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="reconcile-repair") as pool:
        for _ in range(count):
            pool.submit(worker)
    if failures:
        raise failures[0]
    return Applied(results, deferred)


_END = object()


def _inline(items: Sequence[Item], work: Callable[[Item], Result], deadline: float) -> Applied[Result]:
    results: list[Result] = []
    deferred = 0
    for item in items:
        if time.monotonic() > deadline:
            deferred += 1
            continue
        results.append(work(item))
    return Applied(results, deferred)
