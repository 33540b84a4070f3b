"""Failed bearer authentication, counted per source address (issue #20): an address that keeps guessing
tokens is answered 429 for the rest of the minute, whatever it sends, in every web process (the counts
are in Redis, through the cache). A token is 256 random bits, so this is about load and noise more than
odds; it also makes a leaked prefix no cheaper to probe."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

WINDOW_S = 60


def _key(address: str, window: int) -> str:
    return f"api:auth-failures:{address}:{window}"


def _window() -> tuple[int, float]:
    now = time.time()
    window = int(now // WINDOW_S)
    return window, (window + 1) * WINDOW_S - now


def throttled_for(address: str | None) -> float | None:
    """Seconds until ``address`` may try again, or None while it is under the limit."""
    if address is None:
        return None
    window, left = _window()
    failures = cache.get(_key(address, window), 0)
    return left if failures >= settings.API_AUTH_FAILURES_PER_MINUTE else None


def failure_count(address: str | None) -> None:
    if address is None:
        return
    window, left = _window()
    key = _key(address, window)
    cache.add(key, 0, timeout=int(left) + 1)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr: this failure opens the next window
        cache.set(key, 1, timeout=WINDOW_S + 1)
        failures = 1
    if failures == settings.API_AUTH_FAILURES_PER_MINUTE:
        logger.warning("api.auth_throttled", extra={"source_ip": address})
