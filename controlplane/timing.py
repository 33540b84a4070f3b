"""Every duration the system uses, with a production default and a fast-profile default.

``TIMING_PROFILE=fast`` switches all defaults at once for end-to-end tests and the local demo; any single
variable still overrides its own default. The fast profile keeps the production *ratios* (lease TTL well
under the reconnect windows, broker redelivery under Zoom's 60 s RTMS window) so that compressed time does
not hide an ordering bug. docs/configuration.md lists the same table.
"""

from __future__ import annotations

from typing import Final

PROFILES: Final = frozenset({"production", "fast"})

# name -> (production seconds, fast seconds, why)
DURATIONS: Final[dict[str, tuple[float, float, str]]] = {
    "STREAM_LEASE_TTL_SECONDS": (10.0, 3.0, "gateway stream lease; well under Zoom's 30 s / 60 s windows"),
    "STREAM_LEASE_RENEW_SECONDS": (3.0, 1.0, "how often a healthy gateway renews its stream leases"),
    "EVENTS_LEASE_TTL_SECONDS": (15.0, 3.0, "leader lease of the event-subscription client"),
    "RECONCILE_LEASE_TTL_SECONDS": (
        120.0,
        20.0,
        "the longest one reconcile run may take (its time box is half of it)",
    ),
    "RECONCILE_LEASE_HEARTBEAT_SECONDS": (
        5.0,
        1.0,
        "a reconcile run renews its account's lease this often and holds it for three periods, so a run "
        "whose worker died frees the account after that",
    ),
    "RECONCILE_INTERVAL_SECONDS": (30.0, 3.0, "beat period of the reconciliation fan-out"),
    "RECONCILE_BUDGET_WINDOW_SECONDS": (
        60.0,
        12.0,
        "sliding window of the /metrics/meetings budget (Zoom's is a minute; the fast profile is 1/5)",
    ),
    "RECONCILE_RESTART_BACKOFF_SECONDS": (
        120.0,
        20.0,
        "the longest gap between two RTMS restarts of one meeting",
    ),
    "RECONCILE_ERROR_BACKOFF_SECONDS": (1800.0, 30.0, "back-off after Zoom refuses a start (2308/2310)"),
    "RTMS_START_GRACE_SECONDS": (
        5.0,
        1.0,
        "after meeting.started, how long an API start waits for Zoom's own auto-start of the stream",
    ),
    "RTMS_START_EVENT_WINDOW_SECONDS": (
        15.0,
        3.0,
        "after a start call, how long its rtms_started may take before the reconciler asks again "
        "(stop, then start); Zoom sends it within seconds on both channels and retries a webhook only "
        "minutes later, so waiting longer only loses speech",
    ),
    "RTMS_STOP_SETTLE_SECONDS": (
        5.0,
        1.0,
        "a start that had to stop a stream first tries again for this long while Zoom still refuses it "
        "(2310: the old stream is still stopping), instead of leaving it to a later reconcile run",
    ),
    "RTMS_START_REPLACES_WINDOW_SECONDS": (
        15.0,
        15.0,
        "a stop with reason 2 this soon after our own start call is Zoom replacing the stream it met, "
        "not a person's decision",
    ),
    "RTMS_RECONNECT_BACKOFF_INITIAL_SECONDS": (3.0, 0.2, "first reconnect delay (zoom-protocol.md §2.6)"),
    "RTMS_RECONNECT_BACKOFF_CAP_SECONDS": (30.0, 2.0, "reconnect delay cap (zoom-protocol.md §2.6)"),
    "RTMS_SIGNALING_RECONNECT_WINDOW_SECONDS": (60.0, 60.0, "Zoom waits this long for signaling to return"),
    "RTMS_MEDIA_RECONNECT_WINDOW_SECONDS": (30.0, 30.0, "Zoom waits this long for a media socket"),
    "RTMS_KEEPALIVE_TIMEOUT_SECONDS": (65.0, 65.0, "no keep-alive for this long: re-handshake (§2.5)"),
    "RTMS_CONNECT_TIMEOUT_SECONDS": (10.0, 5.0, "one WebSocket open + handshake"),
    "EVENTS_HEARTBEAT_SECONDS": (30.0, 2.0, "event-subscription heartbeat period (zoom-protocol.md §5)"),
    "EVENTS_BACKOFF_CAP_SECONDS": (60.0, 2.0, "event-subscription reconnect backoff cap"),
    "ZOOM_HTTP_TIMEOUT_SECONDS": (10.0, 5.0, "one Zoom REST or OAuth request"),
    "ZOOM_TOKEN_REFRESH_MARGIN_SECONDS": (300.0, 2.0, "refresh an OAuth token this long before expiry"),
    "WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS": (300.0, 300.0, "accepted clock skew of x-zm-request-timestamp"),
    "INBOX_SWEEP_INTERVAL_SECONDS": (15.0, 1.0, "beat period of the stranded-inbox sweeper"),
    "INBOX_SWEEP_AFTER_SECONDS": (10.0, 2.0, "an inbox row still pending after this is re-enqueued"),
    "WORKER_STALL_AFTER_SECONDS": (
        60.0,
        20.0,
        "a worker with free slots that takes nothing from its waiting queues this long restarts; 0: off",
    ),
    "CELERY_VISIBILITY_TIMEOUT_SECONDS": (45.0, 10.0, "broker redelivery of unacked tasks; under 60 s"),
    "TRANSCRIPT_FLUSH_INTERVAL_SECONDS": (0.1, 0.1, "gateway transcript batch flush period"),
    "RETENTION_INTERVAL_SECONDS": (3600.0, 10.0, "beat period of the retention purge"),
    "READINESS_TIMEOUT_SECONDS": (2.0, 2.0, "per-dependency timeout of /readyz"),
    "LIVE_REAUTHORIZE_SECONDS": (
        5.0,
        1.0,
        "an open live socket checks again this often that its user and session are valid and its meeting "
        "visible to them",
    ),
}


def default_seconds(name: str, profile: str) -> float:
    production, fast, _why = DURATIONS[name]
    return fast if profile == "fast" else production
