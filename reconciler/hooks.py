"""Asking for an immediate reconciliation, e.g. after the event WebSocket had a gap.

Events missed while the WebSocket was down are never re-sent by Zoom; only reconciliation against
``/metrics/meetings`` finds them. rtms asks through ``rtms.hooks.reconcile_wanted``, whose receiver this
module is (connected in reconciler/apps.py).
"""

from __future__ import annotations

import logging

from prometheus_client import Counter

from reconciler.tasks import fan_out, reconcile_account_task
from regions.queues import RECONCILE_QUEUE

logger = logging.getLogger(__name__)

RECONCILE_REQUESTS = Counter(
    "rtms_reconcile_requests_total", "Immediate reconciliations asked for", ["reason"]
)


def request_reconcile(*, zoom_account_id: str, reason: str) -> None:
    """Enqueue a run now (all accounts when the account is not known). Never raises: a lost request only
    waits for the next scheduled run."""
    RECONCILE_REQUESTS.labels(reason).inc()
    logger.info("reconcile.requested", extra={"zoom_account_id": zoom_account_id, "reason": reason})
    try:
        if zoom_account_id:
            reconcile_account_task.apply_async(
                kwargs={"zoom_account_id": zoom_account_id, "trigger": reason[:32]}, queue=RECONCILE_QUEUE
            )
        else:
            fan_out.apply_async(kwargs={"trigger": reason[:32]}, queue=RECONCILE_QUEUE)
    except Exception as exc:  # broker down: the beat schedule still runs
        logger.warning("reconcile.request_failed", extra={"error": type(exc).__name__})


def on_reconcile_wanted(sender: object, *, zoom_account_id: str, reason: str, **_: object) -> None:
    request_reconcile(zoom_account_id=zoom_account_id, reason=reason)
