"""Asking for an immediate reconciliation, e.g. after the event WebSocket had a gap.

Events missed while the WebSocket was down are never re-sent by Zoom; only reconciliation against
``/metrics/meetings`` finds them. The reconciler issue implements the run itself; until then this hook
records the request (log + metric) so callers are wired already and the contract does not change.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter

logger = logging.getLogger(__name__)

RECONCILE_REQUESTS = Counter(
    "rtms_reconcile_requests_total", "Immediate reconciliations asked for", ["reason"]
)


def request_reconcile(*, zoom_account_id: str, reason: str) -> None:
    RECONCILE_REQUESTS.labels(reason).inc()
    logger.info("reconcile.requested", extra={"zoom_account_id": zoom_account_id, "reason": reason})
