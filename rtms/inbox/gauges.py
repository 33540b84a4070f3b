"""What the web process's /metrics says about the inbox, read from the database at scrape time.

Counters of failures live in the worker that counted them; a failed event is a row, so the number of rows
in each unsettled state is the figure to alert on, whichever process failed them. Registered into
``controlplane.health.WEB_COLLECTORS`` by rtms/apps.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db.models import Count, Min
from prometheus_client.core import GaugeMetricFamily

from controlplane.clock import SYSTEM_CLOCK, Clock
from controlplane.health import ScrapeTimeCollector
from rtms.models import InboundEvent, InboxStatus

# The states that need someone, or something, to act; processed and ignored rows are settled.
UNSETTLED = (InboxStatus.PENDING, InboxStatus.FAILED, InboxStatus.QUARANTINED)


def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    return (
        GaugeMetricFamily(
            "rtms_inbox_events", "Inbox events that are not settled, by status", labels=["status"]
        ),
        GaugeMetricFamily(
            "rtms_inbox_oldest_pending_seconds", "Age of the oldest event still waiting to be applied"
        ),
    )


class InboxCollector(ScrapeTimeCollector):
    unavailable_event = "metrics.inbox_unavailable"

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock

    def families(self) -> Iterable[GaugeMetricFamily]:
        return _families()

    def _collect(self) -> Iterator[GaugeMetricFamily]:
        by_status, oldest = _families()
        counts = dict(
            InboundEvent.objects.filter(status__in=[s.value for s in UNSETTLED])
            .values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        for status in UNSETTLED:
            by_status.add_metric([status.value], float(counts.get(status.value, 0)))
        first = InboundEvent.objects.filter(status=InboxStatus.PENDING).aggregate(at=Min("received_at"))["at"]
        oldest.add_metric([], (self._clock.now() - first).total_seconds() if first is not None else 0.0)
        yield by_status
        yield oldest
