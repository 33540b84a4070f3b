"""Pacing of ``PATCH /live_meetings/{id}/rtms_app/status``: every process of every host takes its turn.

Zoom limits the call per account per second (Medium, about 60/s, zoom-protocol.md §6.2). Ingest's start
tasks, the reconciler's parallel repairs and an operator all call it, from several workers at once: each
keeping to the limit on its own would still exceed it together, and a 429 costs a retry and the time to
it. So the calls are spaced evenly, ``1 / ZOOM_RTMS_STATUS_CALLS_PER_SECOND`` apart, by one schedule per
account in Redis (the generic cell rate algorithm: the key holds the time the next call may go, by Redis's
clock, so every host judges by the same clock). Evenly spaced calls pass a sliding window of any length,
not just Zoom's second, which a burst at the limit would not.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache

from rtms.zoom.api import ZoomRateLimited

logger = logging.getLogger(__name__)

# A caller waits at most this long for its turn; a longer queue means the account is asked for more than
# the limit allows for a while, and the call is handled like Zoom's own 429 (the task or the next run
# retries it), instead of holding a worker for it.
MAX_WAIT_S = 5.0

_NEXT_TURN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local spacing = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local turn = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local wait = turn - now
if wait > max_wait then return {0, tostring(wait)} end
redis.call('SET', KEYS[1], tostring(turn + spacing), 'PX', math.ceil((wait + spacing) * 1000) + 1000)
return {1, tostring(wait)}
"""


class PacingBacklog(ZoomRateLimited):
    """Our own schedule had no turn within MAX_WAIT_S: handled like Zoom's 429, but Zoom was never asked."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(429, None, f"rtms_app/status calls queued for {wait_s:.1f} s", retry_after=wait_s)


def _turn(zoom_account_id: str, max_wait_s: float) -> tuple[bool, float]:
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    taken, wait = client.eval(
        _NEXT_TURN,
        1,
        f"rtms:status-pacing:{zoom_account_id}",
        1.0 / settings.ZOOM_RTMS_STATUS_CALLS_PER_SECOND,
        max_wait_s,
    )
    return bool(taken), float(wait)


def wait_for_status_turn(zoom_account_id: str, *, max_wait_s: float = MAX_WAIT_S) -> float:
    """Blocks until this caller's turn to call ``rtms_app/status`` for the account; returns the seconds
    waited. Raises :class:`PacingBacklog` when the turn is further away than ``max_wait_s``."""
    taken, wait = _turn(zoom_account_id, max_wait_s)
    if not taken:
        logger.warning(
            "rtms.status_pacing_backlog", extra={"account": zoom_account_id, "wait_s": round(wait, 2)}
        )
        raise PacingBacklog(wait)
    if wait > 0:
        time.sleep(wait)
    return wait
