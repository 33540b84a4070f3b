"""Asking for an immediate reconciliation, e.g. after the event WebSocket had a gap.

Events missed while the WebSocket was down are never re-sent by Zoom; only reconciliation against
``/metrics/meetings`` finds them.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter

logger = logging.getLogger(__name__)

RECONCILE_REQUESTS = Counter(
    "rtms_reconcile_requests_total", "Immediate reconciliations asked for", ["reason"]
)


def request_reconcile(*, zoom_account_id: str, reason: str) -> None:
    """Record the request (log + metric). Enqueueing the run waits until a worker survives a broker restart
    with a reconcile task in flight (see the note on issue #7); the scheduled runs are off until then."""
    RECONCILE_REQUESTS.labels(reason).inc()
    logger.info("reconcile.requested", extra={"zoom_account_id": zoom_account_id, "reason": reason})
