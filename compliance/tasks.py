"""Thin Celery adapters over compliance/retention.py (names are stable contracts; arguments are ids).

The beat task runs on the control queue and fans out one task per region onto that region's queue:
deleting region content is a write to the region's database and media root, which only the region's
own processes reach (docs/deploy.md). Inbox rows never routed, which belong to no region, are swept
centrally.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings

from compliance.retention import retention_sweep, retention_sweep_unrouted
from controlplane.clock import SYSTEM_CLOCK
from regions.models import Region
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
    """Beat entry point: enqueue each active region's sweep (with a policy or not: revoked and erased
    content goes in every region), sweep the rows never routed. Returns regions enqueued."""
    expires = settings.RETENTION_INTERVAL.total_seconds()
    codes = list(Region.objects.filter(active=True).order_by("code").values_list("code", flat=True))
    for code in codes:
        retention_sweep_region_task.apply_async(
            kwargs={"region_code": code}, queue=queue_for(code), expires=expires
        )
    retention_sweep_unrouted(dry_run=False, now=SYSTEM_CLOCK.now())
    return len(codes)


@shared_task(name="compliance.retention_sweep_region", **_COMMON)
def retention_sweep_region_task(*, region_code: str) -> dict[str, Any]:
    report = retention_sweep(dry_run=False, region_codes=[region_code])
    return report.as_dict()
