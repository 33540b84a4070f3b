"""What Zoom says is live for one account: every page of ``/metrics/meetings?type=live``, within a budget.

``from``/``to`` are UTC dates from yesterday to today, so a meeting that began before midnight is still
listed. The endpoint is Resource-intensive (10-20 calls a minute per account, shared by every caller): a
per-account budget in the shared cache is checked before each call, and a 429 or a spent budget leaves the
observation incomplete, which ends nothing (reconciler/core.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache

from reconciler.core import LiveMeeting
from rtms.zoom.api import ZoomApi, ZoomApiError, ZoomRateLimited, ZoomUnavailable

logger = logging.getLogger(__name__)

PAGE_SIZE = 300
BUDGET_WINDOW_S = 60


@dataclass(frozen=True)
class Observed:
    live: tuple[LiveMeeting, ...]
    complete: bool
    pages: int
    api_calls: int
    error: str = ""


def _take_budget(zoom_account_id: str, now: datetime) -> bool:
    """One call from this minute's budget; False when it is spent. Shared by every worker (Redis)."""
    key = f"reconcile-budget:{zoom_account_id}:{int(now.timestamp()) // BUDGET_WINDOW_S}"
    cache.add(key, 0, timeout=BUDGET_WINDOW_S * 2)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr: start the window again
        cache.set(key, 1, timeout=BUDGET_WINDOW_S * 2)
        used = 1
    return int(used) <= settings.RECONCILE_METRICS_CALLS_PER_MINUTE


def observe_live(api: ZoomApi, zoom_account_id: str, now: datetime) -> Observed:
    today = now.date()
    meetings: dict[str, LiveMeeting] = {}
    token = ""
    pages = calls = 0
    while True:
        if not _take_budget(zoom_account_id, now):
            return Observed(tuple(meetings.values()), False, pages, calls, "rate budget spent")
        calls += 1
        try:
            page = api.list_meetings(
                meeting_type="live",
                from_date=today - timedelta(days=1),
                to_date=today,
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


def confirm_ended(api: ZoomApi, zoom_account_id: str, uuid: str, now: datetime) -> bool | None:
    """True when ``type=past`` lists the meeting, False when it does not, None when we could not ask."""
    if not _take_budget(zoom_account_id, now):
        return None
    try:
        page = api.list_meetings(
            meeting_type="past",
            from_date=now.date() - timedelta(days=1),
            to_date=now.date(),
            page_size=PAGE_SIZE,
        )
    except ZoomApiError:
        return None
    return any(m.uuid == uuid for m in page.meetings)
