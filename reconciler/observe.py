"""What Zoom says is live for one account: every page of ``/metrics/meetings?type=live``, within a budget.

``from``/``to`` are UTC dates from yesterday to today, so a meeting that began before midnight is still
listed. The endpoint is Resource-intensive (10-20 calls a minute per account, shared by every caller): a
per-account budget in the shared cache is checked before each call, and a 429 or a spent budget leaves the
observation incomplete, which ends nothing (reconciler/core.py).

The budget fails closed. A cache that cannot be reached spends nothing: the run stops there and is tried
again by the next one (``BUDGET_UNAVAILABLE``). A cache that comes back empty (Redis restarted without
persistence) does not hand out a fresh budget either: the calls finished runs recorded in the window are
counted in again first, each at its run's end (later than it was made, so it counts for longer).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from redis.exceptions import RedisError

from reconciler.core import LiveMeeting
from reconciler.models import ReconcileRun
from rtms.zoom.api import ZoomApi, ZoomApiError, ZoomRateLimited, ZoomUnavailable

logger = logging.getLogger(__name__)

PAGE_SIZE = 300
# Zoom filters both lists by the meetings' start dates, in the account's time zone, over at most a month
# (zoom-protocol.md §6.3). Asking for one day back dropped a meeting that had run longer, which was then
# ended while still live. The range reaches a day past today's UTC date for accounts ahead of UTC.
LISTING_DAYS = 30


def listing_range(now: datetime, since: date | None = None) -> tuple[date, date]:
    """(from, to) for /metrics/meetings: at most LISTING_DAYS back, or from ``since`` (a day earlier, for
    accounts behind UTC) when that is later, to tomorrow."""
    to_date = now.date() + timedelta(days=1)
    from_date = to_date - timedelta(days=LISTING_DAYS)
    if since is not None:
        from_date = max(from_date, since - timedelta(days=1))
    return from_date, to_date


@dataclass(frozen=True)
class Observed:
    live: tuple[LiveMeeting, ...]
    complete: bool
    pages: int
    api_calls: int
    error: str = ""


# A sliding window, like Zoom's own limiter: a fixed per-minute counter would allow two budgets' worth of
# calls around a minute boundary. One sorted set per account holds the call times (Redis's clock, so every
# worker judges by the same clock); the script checks and records atomically.
_SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if ARGV[3] == 'take' and used < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
  return {1, used + 1, 0}
end
-- Milliseconds until the oldest call leaves the window and frees a slot.
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait_ms = 0
if oldest[2] then wait_ms = math.max(0, math.ceil((tonumber(oldest[2]) + window - now) * 1000)) end
return {0, used, wait_ms}
"""


BUDGET_UNAVAILABLE = "call budget unavailable (cache unreachable)"


def _budget_key(zoom_account_id: str) -> str:
    return f"rtms:reconcile-budget:{zoom_account_id}"


def _recount(client: Any, zoom_account_id: str) -> None:
    """The window is gone from the cache (or nothing was called in it): count in the calls that runs which
    finished inside it recorded, so a restarted cache cannot double the budget. A no-op when there are none.
    One run per account at a time (its lease) takes from the budget, so nobody races this."""
    window = settings.RECONCILE_BUDGET_WINDOW
    recent = ReconcileRun.objects.filter(
        account__zoom_account_id=zoom_account_id, finished_at__gte=timezone.now() - window, api_calls__gt=0
    ).values_list("pk", "finished_at", "api_calls")
    members = {
        f"run:{pk}:{n}": finished_at.timestamp()
        for pk, finished_at, calls in recent
        if finished_at is not None  # the filter excludes None; the type does not know
        for n in range(calls)
    }
    if members:
        key = _budget_key(zoom_account_id)
        client.zadd(key, members, nx=True)
        client.pexpire(key, int(window.total_seconds() * 1000))
        logger.info("reconcile.budget_recounted", extra={"account": zoom_account_id, "calls": len(members)})


def _budget(zoom_account_id: str, *, take: bool) -> tuple[bool, int, float]:
    """(taken, calls in the window, seconds until a slot frees). Raises RedisError when the cache cannot be
    reached."""
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    if take and not client.exists(_budget_key(zoom_account_id)):
        _recount(client, zoom_account_id)
    taken, used, wait_ms = client.eval(
        _SLIDING_WINDOW,
        1,
        _budget_key(zoom_account_id),
        settings.RECONCILE_BUDGET_WINDOW.total_seconds(),
        settings.RECONCILE_METRICS_CALLS_PER_MINUTE,
        "take" if take else "peek",
        uuid.uuid4().hex,
    )
    return bool(taken), int(used), int(wait_ms) / 1000


def _take_budget(zoom_account_id: str, *, wait_until: float | None = None) -> bool:
    """One call from the account's budget, shared by every worker (Redis). When it is spent, waits for a
    slot if one frees before ``wait_until`` (``time.monotonic()``), else returns False."""
    while True:
        taken, _, wait_s = _budget(zoom_account_id, take=True)
        if taken:
            return True
        if wait_until is None or time.monotonic() + wait_s > wait_until:
            return False
        time.sleep(wait_s + 0.05)


def budget_remaining(zoom_account_id: str) -> int:
    """Calls left in the account's budget now (for /metrics; reading it spends nothing)."""
    _, used, _ = _budget(zoom_account_id, take=False)
    return max(0, settings.RECONCILE_METRICS_CALLS_PER_MINUTE - used)


def observe_live(
    api: ZoomApi, zoom_account_id: str, now: datetime, *, wait_until: float | None = None
) -> Observed:
    """Every page of the live list. When the budget runs out between pages, waits for it (until
    ``wait_until``) rather than giving up: a run that always stopped at the same page would never see the
    meetings listed after it."""
    from_date, to_date = listing_range(now)
    meetings: dict[str, LiveMeeting] = {}
    token = ""
    pages = calls = 0
    while True:
        try:
            taken = _take_budget(zoom_account_id, wait_until=wait_until)
        except RedisError as exc:
            logger.warning(
                "reconcile.budget_unavailable",
                extra={"account": zoom_account_id, "error": type(exc).__name__},
            )
            return Observed(tuple(meetings.values()), False, pages, calls, BUDGET_UNAVAILABLE)
        if not taken:
            return Observed(tuple(meetings.values()), False, pages, calls, "rate budget spent")
        calls += 1
        try:
            page = api.list_meetings(
                meeting_type="live",
                from_date=from_date,
                to_date=to_date,
                page_size=PAGE_SIZE,
                next_page_token=token,
            )
        except (ZoomRateLimited, ZoomUnavailable) as exc:
            logger.warning(
                "reconcile.observe_incomplete",
                extra={"account": zoom_account_id, "error": type(exc).__name__},
            )
            return Observed(tuple(meetings.values()), False, pages, calls, type(exc).__name__)
        except ZoomApiError as exc:
            logger.error(
                "reconcile.observe_refused", extra={"account": zoom_account_id, "status": exc.status}
            )
            return Observed(tuple(meetings.values()), False, pages, calls, f"refused {exc.status}")
        pages += 1
        for m in page.meetings:
            meetings[m.uuid] = LiveMeeting(uuid=m.uuid, meeting_id=m.id, host_email=m.email)
        token = page.next_page_token
        if not token:
            return Observed(tuple(meetings.values()), True, pages, calls)


@dataclass(frozen=True)
class PastObserved:
    uuids: frozenset[str] | None  # None: we could not read to the end
    api_calls: int


def observe_past(
    api: ZoomApi, zoom_account_id: str, now: datetime, since: date | None = None
) -> PastObserved:
    """Every meeting uuid ``type=past`` lists from ``since`` (the earliest start of the meetings to confirm)
    to today, or None when we could not read to the end (budget spent, Zoom trouble): an unanswered
    question ends nothing. One listing per run confirms all of its candidates; asking per meeting would
    spend the shared budget ten times when ten end at once."""
    from_date, to_date = listing_range(now, since)
    uuids: set[str] = set()
    token = ""
    calls = 0
    while True:
        try:
            taken = _take_budget(zoom_account_id)
        except RedisError:  # fail closed: no call without the budget
            return PastObserved(None, calls)
        if not taken:
            return PastObserved(None, calls)
        calls += 1
        try:
            page = api.list_meetings(
                meeting_type="past",
                from_date=from_date,
                to_date=to_date,
                page_size=PAGE_SIZE,
                next_page_token=token,
            )
        except ZoomApiError:
            return PastObserved(None, calls)
        uuids.update(m.uuid for m in page.meetings)
        token = page.next_page_token
        if not token:
            return PastObserved(frozenset(uuids), calls)
