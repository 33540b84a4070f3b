"""Celery adapters: the beat fan-out and one reconciliation per account, under a per-account lease."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from django.conf import settings

from reconciler.services import RUN_SOFT_TIME_LIMIT_S, reconcile_account
from regions.queues import RECONCILE_QUEUE
from rtms.leases import lease_kept, lease_owner
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
    owner = lease_owner()
    # Renewed while the run lasts, held for three heartbeats: a worker killed mid-run frees the account
    # within seconds, not after the longest a run may take (bench/chaos.py found runs blocked for a whole
    # RECONCILE_LEASE_TTL_SECONDS while meetings waited for their restart).
    heartbeat = settings.RECONCILE_LEASE_HEARTBEAT
    with lease_kept(f"reconcile:{zoom_account_id}", owner, heartbeat * 3, renew_every=heartbeat) as held:
        if held is None:
            return "busy"
        run = reconcile_account(account, trigger=trigger, api_factory=zoom_api_for)
    if held.lost.is_set():
        # Another run may hold the account now (ours lapsed under a database outage): its starts were
        # claimed optimistically (seen_start_requested_at), so none was doubled; the deferred repairs
        # are that run's to pick up.
        fields = {"run_id": run.pk, "account": zoom_account_id}
        logger.warning("reconcile.lease_lost_during_run", extra=fields)
        return str(run.status)
    if run.repairs.get("deferred"):
        # Repairs left over by the time box go on at once (lease released above), not a beat interval later:
        # a backlog of missed starts drains at the pace of Zoom's limits, not of the schedule.
        reconcile_account_task.apply_async(
            kwargs={"zoom_account_id": zoom_account_id, "trigger": "continue"}, queue=RECONCILE_QUEUE
        )
    return str(run.status)
