"""Nothing stranded: inbox rows still pending after a while are handed to a worker again.

An enqueue can be lost after the row committed (broker down, process killed between commit and publish);
the sweeper is what makes the inbox, not the broker, the source of truth. Re-enqueueing is safe because
route and apply are idempotent.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Q

from controlplane.clock import SYSTEM_CLOCK, Clock
from rtms.inbox.attempts import attempts_exhausted, give_up
from rtms.inbox.publish import enqueue_apply, enqueue_route
from rtms.models import InboundEvent, InboxStatus

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500


def inbox_sweep(*, older_than: timedelta, clock: Clock = SYSTEM_CLOCK) -> int:
    cutoff = clock.now() - older_than
    stale = (
        InboundEvent.objects.filter(status=InboxStatus.PENDING, received_at__lt=cutoff)
        .filter(Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=cutoff))
        .select_related("region")
        .order_by("received_at")[:SWEEP_BATCH]
    )
    count = 0
    for row in stale:
        if attempts_exhausted(row.attempts):
            # Every attempt ended without recording a failure (a worker killed in each): no more tries.
            give_up(row.pk, row.attempts, row.error)
            continue
        if row.region is not None and row.meeting_id is not None:
            enqueue_apply(row.pk, row.region.code)
        else:
            enqueue_route(row.pk)
        count += 1
    if count:
        logger.info("inbox.swept", extra={"requeued": count})
    return count


def inbox_mark_failed(event_id: int, exc: Exception) -> None:
    InboundEvent.objects.filter(pk=event_id, status=InboxStatus.PENDING).update(
        status=InboxStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:255]
    )
    logger.error("inbox.failed", extra={"event_id": event_id, "error": type(exc).__name__})
