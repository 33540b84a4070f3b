"""Thin Celery adapters over compliance/retention.py (names are stable contracts; arguments are ids).

The beat task runs on the control queue and fans out one task per region onto that region's queue:
deleting region content is a write to the region's database and media root, which only the region's
own processes reach (docs/deploy.md). The quarantine, which belongs to no region, is swept centrally.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings

from compliance.models import RetentionPolicy
from compliance.retention import retention_sweep, retention_sweep_quarantine
from controlplane.clock import SYSTEM_CLOCK
from regions.queues import queue_for

logger = logging.getLogger(__name__)

_COMMON: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "time_limit": 600,
    "soft_time_limit": 540,
}


@shared_task(name="compliance.retention_sweep", **_COMMON)
def retention_sweep_task() -> int:
    """Beat entry point: enqueue each region's sweep, sweep the quarantine. Returns regions enqueued."""
    expires = settings.RETENTION_INTERVAL.total_seconds()
    codes = list(RetentionPolicy.objects.order_by("region__code").values_list("region__code", flat=True))
    for code in codes:
        retention_sweep_region_task.apply_async(
            kwargs={"region_code": code}, queue=queue_for(code), expires=expires
        )
    retention_sweep_quarantine(dry_run=False, now=SYSTEM_CLOCK.now())
    return len(codes)


@shared_task(name="compliance.retention_sweep_region", **_COMMON)
def retention_sweep_region_task(*, region_code: str) -> dict[str, Any]:
    report = retention_sweep(dry_run=False, region_codes=[region_code])
    return report.as_dict()
