"""Prometheus counters of the ingest path. They live in the process that counts (docs/deploy.md)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DELIVERIES = Counter("rtms_event_deliveries_total", "Zoom event deliveries received", ["channel"])
DUPLICATES = Counter(
    "rtms_event_duplicates_total", "Deliveries of an event already in the inbox", ["channel"]
)
FIRST_CHANNEL = Counter(
    "rtms_event_first_channel_total", "Which channel delivered an event first", ["channel"]
)
CHANNEL_LAG = Histogram(
    "rtms_event_channel_lag_seconds",
    "How much later the second channel delivered an event than the first",
    ["channel"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200),
)
SIGNATURE_FAILURES = Counter("rtms_webhook_rejected_total", "Webhooks refused", ["reason"])
REFUSED = Counter(
    "rtms_event_deliveries_refused_total",
    "Authenticated deliveries refused because their body could not be stored (rtms/inbox/refused.py)",
    ["channel", "reason"],
)
AFTER_ERASURE = Counter(
    "rtms_events_after_erasure_total",
    "Deliveries naming a meeting already erased: stored as a stub, never applied",
    ["channel"],
)
ENQUEUE_FAILURES = Counter(
    "rtms_inbox_enqueue_failures_total",
    "Committed inbox rows whose route task was not published (the sweeper re-enqueues them)",
    ["reason"],
)
QUARANTINED = Counter("rtms_events_quarantined_total", "Events that no residency rule could place")
APPLIED = Counter("rtms_events_applied_total", "Events applied to meeting and stream state", ["event"])
RTMS_STARTS = Counter("rtms_start_requests_total", "RTMS start calls to Zoom's REST API", ["outcome"])
