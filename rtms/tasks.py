"""Thin Celery adapters over the inbox's steps (rtms/inbox/) and the RTMS start (rtms/capture.py). Their
names are stable contracts, spelled once in rtms/inbox/publish.py, which is how everything sends them.

Arguments are ids only (never personal data). Transient Zoom or database trouble is retried with capped,
jittered back-off and a bound; a permanent failure is recorded on the inbox row or the meeting and stops.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from celery import Task, shared_task
from django.conf import settings

from rtms import capture
from rtms.inbox import publish
from rtms.inbox.apply import event_apply
from rtms.inbox.attempts import TRANSIENT
from rtms.inbox.route import event_route
from rtms.inbox.sweep import inbox_mark_failed, inbox_sweep
from rtms.zoom.api import ZoomRateLimited

logger = logging.getLogger(__name__)

MAX_RETRIES = 8


def _backoff(retries: int, *, cap_s: float = 60.0) -> float:
    return random.uniform(0, min(cap_s, 2.0 ** (retries + 1)))


def _retry_or_fail(task: Task[Any, Any], exc: Exception, *, on_give_up: Any) -> None:
    if task.request.retries >= MAX_RETRIES:
        on_give_up(exc)
        return
    countdown = _backoff(task.request.retries)
    if isinstance(exc, ZoomRateLimited) and exc.retry_after:
        countdown = max(countdown, min(exc.retry_after, 300.0))
    raise task.retry(exc=exc, countdown=countdown)


_COMMON: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "max_retries": MAX_RETRIES,
    "time_limit": 60,
    "soft_time_limit": 45,
}


@shared_task(name=publish.ROUTE_EVENT, **_COMMON)
def route_event(self: Task[Any, Any], *, event_id: int) -> str:
    try:
        with publish.applies_held() as held:
            status = event_route(event_id).status
    except TRANSIENT as exc:
        _retry_or_fail(self, exc, on_give_up=lambda e: inbox_mark_failed(event_id, e))
        return "failed"
    for routed_id, region_code in held:  # routed to a region this worker serves: applied here
        _apply_here(routed_id, region_code)
    return status


def _apply_here(event_id: int, region_code: str) -> None:
    """An apply this worker took on instead of publishing it; transient trouble hands it to the region's
    queue, where the apply task retries it with its back-off."""
    try:
        event_apply(event_id)
    except TRANSIENT as exc:
        logger.warning("inbox.apply_here_deferred", extra={"event_id": event_id, "error": type(exc).__name__})
        publish.enqueue_apply(event_id, region_code)


@shared_task(
    name=publish.ROUTE_EVENTS, acks_late=True, reject_on_worker_lost=True, time_limit=60, soft_time_limit=45
)
def route_events(*, event_ids: list[int]) -> int:
    """A batch from a busy process's route publisher, fanned out into one ``route_event`` per event so each
    keeps its own retries and time limit. Redelivered after a lost worker, it may enqueue some twice:
    routing is idempotent. Anything but an id in the list is skipped."""
    ids = [event_id for event_id in event_ids if type(event_id) is int]
    if len(ids) != len(event_ids):
        logger.warning("inbox.route_batch_malformed", extra={"skipped": len(event_ids) - len(ids)})
    publish.send_route_each(ids)
    return len(ids)


@shared_task(name=publish.APPLY_EVENT, **_COMMON)
def apply_event(self: Task[Any, Any], *, event_id: int) -> str:
    try:
        return event_apply(event_id)
    except TRANSIENT as exc:
        _retry_or_fail(self, exc, on_give_up=lambda e: inbox_mark_failed(event_id, e))
        return "failed"


@shared_task(name=publish.START_RTMS, **_COMMON)
def start_rtms(self: Task[Any, Any], *, meeting_id: int) -> str:
    try:
        return capture.rtms_start(meeting_id)
    except capture.StartInFlight as exc:
        # Another run of this start is calling Zoom: ask again once it has had the time to finish.
        raise self.retry(exc=exc, countdown=capture.start_lease_ttl().total_seconds() / 3) from None
    except TRANSIENT as exc:
        _retry_or_fail(self, exc, on_give_up=lambda e: capture.rtms_start_failed(meeting_id, e))
        return "failed"


@shared_task(name="rtms.sweep_inbox", acks_late=True, time_limit=60, soft_time_limit=45)
def sweep_inbox() -> int:
    return inbox_sweep(older_than=settings.INBOX_SWEEP_AFTER)
