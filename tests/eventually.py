"""The one way tests wait: poll a condition until it holds, fail with what was awaited after a deadline.

Deadlines are generous and say nothing about speed (tests never assert how fast something happened).
``eventually`` blocks the thread between polls; ``eventually_async`` yields to the event loop instead, for
tests whose condition is reached by tasks on the same loop. Both take the same arguments and return the
first truthy value of ``predicate``. With ``tolerate``, those exceptions count as "not yet" (a server that
is still starting), and the last one is chained to the failure.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_INTERVAL_S = 0.02


class _Poll:
    def __init__(self, timeout: float, what: str) -> None:
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.what = what
        self.last_error: BaseException | None = None

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def failure(self) -> AssertionError:
        error = AssertionError(f"{self.what} not reached within {self.timeout}s")
        error.__cause__ = self.last_error
        return error


def _check(predicate: Callable[[], T], poll: _Poll, tolerate: tuple[type[BaseException], ...]) -> T | None:
    try:
        value = predicate()
    except tolerate as exc:
        poll.last_error = exc
        return None
    return value if value else None


def eventually(
    predicate: Callable[[], T],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    interval: float = DEFAULT_INTERVAL_S,
    what: str = "condition",
    tolerate: tuple[type[BaseException], ...] = (),
) -> T:
    poll = _Poll(timeout, what)
    while True:
        value = _check(predicate, poll, tolerate)
        if value is not None:
            return value
        if poll.expired():
            raise poll.failure()
        time.sleep(interval)


async def eventually_async(
    predicate: Callable[[], T],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    interval: float = DEFAULT_INTERVAL_S,
    what: str = "condition",
    tolerate: tuple[type[BaseException], ...] = (),
) -> T:
    poll = _Poll(timeout, what)
    while True:
        value = _check(predicate, poll, tolerate)
        if value is not None:
            return value
        if poll.expired():
            raise poll.failure()
        await asyncio.sleep(interval)
