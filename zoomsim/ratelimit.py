"""Sliding-window rate limiters (real monotonic time; windows are already scaled)."""

from __future__ import annotations

import collections
from dataclasses import dataclass

from zoomsim.clock import monotonic


@dataclass
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    kind: str  # "QPS" | "Daily-limit"
    retry_after_s: float = 0.0


class SlidingWindow:
    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._hits: dict[str, collections.deque[float]] = {}

    def _trim(self, key: str, now: float) -> collections.deque[float]:
        q = self._hits.setdefault(key, collections.deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def peek(self, key: str, limit: int) -> tuple[bool, int, float]:
        now = monotonic()
        q = self._trim(key, now)
        ok = len(q) < limit
        retry = (q[0] + self.window_s - now) if q and not ok else 0.0
        return ok, max(0, limit - len(q)), retry

    def hit(self, key: str) -> None:
        now = monotonic()
        self._trim(key, now).append(now)

    def clear(self) -> None:
        self._hits.clear()


class RateLimiter:
    """A per-key short window (per-second/per-minute) plus an optional daily cap.

    Refused calls do not count against the window.
    """

    def __init__(self, window_s: float, daily_window_s: float | None = None) -> None:
        self.short = SlidingWindow(window_s)
        self.daily = SlidingWindow(daily_window_s) if daily_window_s else None

    def check(self, key: str, limit: int, daily_cap: int | None = None) -> Verdict:
        if self.daily is not None and daily_cap:
            ok, _, retry = self.daily.peek(key, daily_cap)
            if not ok:
                return Verdict(False, daily_cap, 0, "Daily-limit", retry)
        ok, remaining, retry = self.short.peek(key, limit)
        if not ok:
            return Verdict(False, limit, 0, "QPS", retry)
        self.short.hit(key)
        if self.daily is not None and daily_cap:
            self.daily.hit(key)
        return Verdict(True, limit, remaining - 1, "QPS")

    def clear(self) -> None:
        self.short.clear()
        if self.daily is not None:
            self.daily.clear()
