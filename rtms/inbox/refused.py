"""Refusing a delivery whose body cannot be stored (rtms/zoom/protocol/body.py, the parsers' limits).

Both channels refuse alike: nothing of the body is stored and nothing of it is logged; the refusal is
counted (``rtms_event_deliveries_refused_total{channel, reason}``) and recorded (``RefusedDelivery``:
time, channel, event type, reason) so that an operator can tell Zoom's deliveries are being lost and
why. The webhook answers 400 (so Zoom's retries stop); the event subscriber goes on reading.
"""

from __future__ import annotations

import logging
import re

from django.db import DatabaseError

from controlplane.clock import SYSTEM_CLOCK, Clock
from rtms import metrics
from rtms.models import Channel, RefusedDelivery
from rtms.zoom.protocol import REASONS

logger = logging.getLogger(__name__)

_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]")
_EVENT_TYPE_MAX = 100


def refused_event_type(body: object) -> str:
    """The event type a body names, reduced to printable ASCII; "" when it names none."""
    name = body.get("event") if isinstance(body, dict) else None
    if not isinstance(name, str):
        return ""
    return _NOT_PRINTABLE_ASCII.sub("?", name[:_EVENT_TYPE_MAX])


def delivery_refuse(
    *, channel: Channel, reason: str, body: object = None, clock: Clock = SYSTEM_CLOCK
) -> int | None:
    """Count and record one refused delivery; returns the record's id (None if the database failed, as
    it may when it is the reason: the count and the log line still tell)."""
    reason = reason if reason in REASONS else "malformed"
    metrics.REFUSED.labels(channel.value, reason).inc()
    record_id: int | None = None
    try:
        record_id = RefusedDelivery.objects.create(
            received_at=clock.now(), channel=channel, event_type=refused_event_type(body), reason=reason
        ).pk
    except DatabaseError as exc:
        logger.error(
            "inbox.refused_record_failed", extra={"channel": channel.value, "error": type(exc).__name__}
        )
    logger.warning(
        "inbox.refused", extra={"channel": channel.value, "reason": reason, "refused_id": record_id}
    )
    return record_id
