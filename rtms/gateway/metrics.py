"""Prometheus metrics of a gateway process (served on its own port: counters live where they count)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

STREAMS = Gauge(
    "rtms_gateway_streams", "Streams this gateway holds, by last reported state", ["region", "state"]
)
RECONNECTS = Counter(
    "rtms_gateway_reconnects_total", "Connection interruptions by cause", ["region", "cause"]
)
SEGMENTS = Counter("rtms_gateway_segments_total", "Transcript segments received", ["region"])
SEGMENTS_DISCARDED = Counter(
    "rtms_gateway_segments_discarded_total",
    "Received transcript segments never stored: `buffer_full` (the region database was out for longer than "
    "GATEWAY_BUFFER_MAX_SEGMENTS lasts), `fenced` (received under a stream lease that passed to another "
    "gateway before they were written)",
    ["region", "reason"],
)
LEASES_EXPIRED = Counter(
    "rtms_gateway_leases_expired_total",
    "Streams this gateway dropped, sockets first, because it could not renew their leases in time",
    ["region"],
)
FLUSH_SECONDS = Histogram(
    "rtms_gateway_flush_seconds",
    "Time to write one transcript batch to the region database",
    ["region"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
KEEPALIVE_AGE = Histogram(
    "rtms_gateway_keepalive_age_seconds",
    "From Zoom's timestamp on a keep-alive request to our answer, by socket kind: the network delay plus "
    "this gateway's lag in reading its sockets (and any clock offset); rising values mean an overloaded "
    "gateway, and Zoom drops a stream whose answers stop",
    ["region", "socket_kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OUTCOMES = Counter("rtms_gateway_stream_outcomes_total", "How held streams ended", ["region", "outcome"])
