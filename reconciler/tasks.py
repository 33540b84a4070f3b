"""Celery adapters: the beat fan-out and one reconciliation per account, under a per-account lease."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from celery import Task, shared_task
from django.conf import settings

from reconciler.services import RUN_SOFT_TIME_LIMIT_S, reconcile_account
from regions.queues import RECONCILE_QUEUE
from rtms.leases import lease_held
from rtms.models import ZoomAccount
from rtms.zoom_clients import zoom_api_for

logger = logging.getLogger(__name__)


@shared_task(name="reconciler.fan_out", acks_late=True, time_limit=60, soft_time_limit=45)
def fan_out(*, trigger: str = "schedule") -> int:
    ids = list(ZoomAccount.objects.filter(active=True).values_list("zoom_account_id", flat=True))
    expires = settings.RECONCILE_INTERVAL.total_seconds()
    for zoom_account_id in ids:
        reconcile_account_task.apply_async(
            kwargs={"zoom_account_id": zoom_account_id, "trigger": trigger},
            queue=RECONCILE_QUEUE,
            expires=expires,
        )
    return len(ids)


@shared_task(
    name="reconciler.reconcile_account",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=120,
    soft_time_limit=RUN_SOFT_TIME_LIMIT_S,
)
def reconcile_account_task(self: Task[Any, Any], *, zoom_account_id: str, trigger: str = "schedule") -> str:
    account = ZoomAccount.objects.filter(zoom_account_id=zoom_account_id, active=True).first()
    if account is None:
        return "no_account"
    # One run per account at a time across all workers: /metrics/meetings is rate-limited per account.
    owner = f"{socket.gethostname()}:{os.getpid()}"
    with lease_held(f"reconcile:{zoom_account_id}", owner, settings.RECONCILE_LEASE_TTL) as held:
        if held is None:
            return "busy"
        run = reconcile_account(account, trigger=trigger, api_factory=zoom_api_for)
    if run.repairs.get("deferred"):
        # Repairs left over by the time box go on at once (lease released above), not a beat interval later:
        # a backlog of missed starts drains at the pace of Zoom's limits, not of the schedule.
        reconcile_account_task.apply_async(
            kwargs={"zoom_account_id": zoom_account_id, "trigger": "continue"}, queue=RECONCILE_QUEUE
        )
    return str(run.status)
