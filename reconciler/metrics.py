"""Reconciler metrics, read from the database and Redis when /metrics is scraped.

Runs happen in Celery workers, whose in-process counters nobody scrapes; the ``ReconcileRun`` rows and the
shared budget are the truth, so the web process reports them. Per account: the last finished run (its age,
duration, drift found by kind and what the repairs did) and the budget of ``/metrics/meetings`` calls left
now; over the trailing hour: runs by status, drift found and repairs by kind.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import timedelta

from prometheus_client.core import GaugeMetricFamily

from controlplane.clock import SYSTEM_CLOCK, Clock
from controlplane.health import ScrapeTimeCollector
from reconciler.models import ReconcileRun, RunStatus
from reconciler.observe import budget_remaining
from rtms.models import ZoomAccount

logger = logging.getLogger(__name__)

RECENT = timedelta(hours=1)
# Plan kinds that are drift between Zoom and us (mark_seen, mark_missing and hold are bookkeeping), and the
# results of a repair that changed something (reconciler/services.py _apply).
DRIFT_KINDS = frozenset({"create_and_start", "route", "start_rtms", "confirm_ended", "flag"})
REPAIRED_RESULTS = frozenset({"started", "ended", "flagged", "quarantined", "routed"})


def split_repairs(repairs: dict[str, int]) -> tuple[Counter[str], Counter[str]]:
    """A run's ``repairs`` JSON holds plan kinds (``start_rtms: 2``) and outcomes (``start_rtms:started:
    1``). Returns (drift found by kind, repaired by kind)."""
    found: Counter[str] = Counter()
    repaired: Counter[str] = Counter()
    for key, count in repairs.items():
        kind, _, result = key.partition(":")
        if not result:
            if kind in DRIFT_KINDS:
                found[kind] += int(count)
        elif result in REPAIRED_RESULTS:
            repaired[kind] += int(count)
    return found, repaired


def _families() -> tuple[GaugeMetricFamily, ...]:
    """The reconciler's metric families, empty: age, duration, budget, runs, drift, repaired."""
    return (
        GaugeMetricFamily(
            "rtms_reconcile_last_run_age_seconds", "Time since the last finished run", labels=["account"]
        ),
        GaugeMetricFamily(
            "rtms_reconcile_last_run_duration_seconds",
            "Duration of the last finished run",
            labels=["account"],
        ),
        GaugeMetricFamily(
            "rtms_reconcile_budget_remaining",
            "Calls of /metrics/meetings left in the account's sliding budget",
            labels=["account"],
        ),
        GaugeMetricFamily("rtms_reconcile_runs_recent", "Runs in the last hour by status", labels=["status"]),
        GaugeMetricFamily(
            "rtms_reconcile_drift_found_recent", "Drift found in the last hour by kind", labels=["kind"]
        ),
        GaugeMetricFamily(
            "rtms_reconcile_repaired_recent",
            "Repairs that changed something in the last hour",
            labels=["kind"],
        ),
    )


class ReconcilerCollector(ScrapeTimeCollector):
    unavailable_event = "metrics.reconciler_unavailable"

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock

    def families(self) -> Iterable[GaugeMetricFamily]:
        return _families()

    def _collect(self) -> Iterator[GaugeMetricFamily]:
        now = self._clock.now()
        age, duration, budget, runs, drift, repaired = _families()
        for account in ZoomAccount.objects.filter(active=True).only("pk", "zoom_account_id"):
            last = (
                ReconcileRun.objects.filter(account=account, finished_at__isnull=False)
                .order_by("-finished_at")
                .first()
            )
            if last is not None and last.finished_at is not None:
                age.add_metric([account.zoom_account_id], (now - last.finished_at).total_seconds())
                duration.add_metric(
                    [account.zoom_account_id], (last.finished_at - last.started_at).total_seconds()
                )
            try:
                budget.add_metric([account.zoom_account_id], budget_remaining(account.zoom_account_id))
            except Exception as exc:  # Redis away: the other figures still stand
                logger.warning("metrics.budget_unavailable", extra={"error": type(exc).__name__})
        statuses: Counter[str] = Counter()
        found_total: Counter[str] = Counter()
        repaired_total: Counter[str] = Counter()
        for status, repairs in ReconcileRun.objects.filter(started_at__gte=now - RECENT).values_list(
            "status", "repairs"
        ):
            statuses[status] += 1
            found, fixed = split_repairs(repairs or {})
            found_total.update(found)
            repaired_total.update(fixed)
        for status in RunStatus.values:
            runs.add_metric([status], statuses.get(status, 0))
        for kind, count in sorted(found_total.items()):
            drift.add_metric([kind], count)
        for kind, count in sorted(repaired_total.items()):
            repaired.add_metric([kind], count)
        yield from (age, duration, budget, runs, drift, repaired)
