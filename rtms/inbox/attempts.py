"""Attempts on an inbox row, so that no event can poison the inbox.

An attempt is counted in its own statement, outside the transaction that tries: a try that rolls back, or
a worker killed in the middle of it, still counts. What went wrong is recorded on the row. At
``INBOX_MAX_ATTEMPTS`` the row is failed, with its last error, and nothing re-enqueues it again (the admin
and the API show it; ``rtms_inbox_events{status="failed"}`` counts it). An illegal state move is not an
error to retry: it is the event's outcome, recorded once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, connection

from controlplane.clock import SYSTEM_CLOCK, Clock
from rtms.models import InboundEvent, InboxStatus
from rtms.services import IllegalTransition
from rtms.zoom.api import ZoomRateLimited, ZoomUnavailable

logger = logging.getLogger(__name__)

# Trouble that may pass by itself: the task retries it with back-off (rtms/tasks.py).
TRANSIENT = (ZoomUnavailable, ZoomRateLimited, DatabaseError)

_COUNT = """
UPDATE rtms_inboundevent SET attempts = attempts + 1, last_attempt_at = %(now)s
 WHERE id = %(id)s AND status = %(pending)s
RETURNING attempts
"""


class Verdict(StrEnum):
    """What became of an attempt that did not succeed; the value is the step's outcome."""

    RETRY = "error"  # still pending: the task's retry or the sweeper tries again
    FAILED = "failed"  # at the maximum: given up, shown and counted
    ILLEGAL = "illegal_transition"  # settled: the move the event asks for is one the lifecycle forbids


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:255]


def attempt_count(event_id: int, *, clock: Clock = SYSTEM_CLOCK) -> int | None:
    """Count one attempt on a pending row, committed at once. None when the row is no longer pending."""
    with connection.cursor() as cursor:
        cursor.execute(_COUNT, {"now": clock.now(), "id": event_id, "pending": InboxStatus.PENDING.value})
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def attempts_exhausted(attempt: int) -> bool:
    return attempt >= int(settings.INBOX_MAX_ATTEMPTS)


def give_up(event_id: int, attempts: int, last_error: str) -> None:
    """Fail a pending row after ``attempts`` tries."""
    why = last_error or "no attempt finished (a worker stopped in each)"
    failed = InboundEvent.objects.filter(pk=event_id, status=InboxStatus.PENDING).update(
        status=InboxStatus.FAILED, error=f"gave up after {attempts} attempts: {why}"[:255]
    )
    if failed:
        logger.error("inbox.failed", extra={"event_id": event_id, "attempts": attempts})


def attempt_failed(event_id: int, attempt: int, exc: Exception) -> Verdict:
    """Record why attempt number ``attempt`` did not apply the event, and what happens next."""
    if isinstance(exc, IllegalTransition):
        InboundEvent.objects.filter(pk=event_id, status=InboxStatus.PENDING).update(
            status=InboxStatus.IGNORED, error=f"illegal transition: {exc}"[:255]
        )
        logger.warning(
            "inbox.illegal_transition",
            extra={
                "event_id": event_id,
                "object": exc.kind,
                "from_state": exc.current,
                "to_state": exc.target,
            },
        )
        return Verdict.ILLEGAL
    if attempts_exhausted(attempt):
        give_up(event_id, attempt, error_text(exc))
        return Verdict.FAILED
    try:
        InboundEvent.objects.filter(pk=event_id, status=InboxStatus.PENDING).update(error=error_text(exc))
    except DatabaseError:  # the database may be why the attempt failed; the count is what matters
        pass
    logger.warning(
        "inbox.attempt_failed",
        extra={"event_id": event_id, "attempt": attempt, "error": type(exc).__name__},
    )
    return Verdict.RETRY


T = TypeVar("T")


def attempt(event_id: int, step: Callable[[], T], *, outcome: Callable[[str], T], clock: Clock) -> T:
    """One counted try of a step on a pending row (route or apply). A row no longer pending is
    ``outcome("skipped")``; a failure is recorded and becomes ``outcome("error" | "failed" |
    "illegal_transition")``, except transient trouble below the maximum, raised for the task to retry."""
    number = attempt_count(event_id, clock=clock)
    if number is None:
        return outcome("skipped")
    try:
        return step()
    except Exception as exc:
        verdict = attempt_failed(event_id, number, exc)
        if verdict is Verdict.RETRY and isinstance(exc, TRANSIENT):
            raise
        return outcome(verdict.value)
