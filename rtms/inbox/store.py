"""Storing an event: every Zoom event, from either channel, stored once under its dedupe key.

The first copy to arrive inserts the row; later copies only stamp their channel's first arrival and bump
``delivery_count``. One INSERT ... ON CONFLICT makes that atomic, so concurrent deliveries of the same
event (webhook retry racing the WebSocket copy) can never both count as first.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from controlplane.clock import SYSTEM_CLOCK, Clock
from rtms import metrics
from rtms.inbox.redaction import payload_stub
from rtms.models import Channel, InboxStatus
from rtms.zoom.protocol import UnknownEvent, ZoomEvent, dedupe_key

logger = logging.getLogger(__name__)

_ARRIVAL_COLUMN = {Channel.WEBHOOK: "webhook_received_at", Channel.WEBSOCKET: "websocket_received_at"}

_UPSERT = """
INSERT INTO rtms_inboundevent
    (dedupe_key, event_type, meeting_uuid, event_ts, payload, first_channel, received_at, {column},
     delivery_count, status, attempts, error, source_account_id)
VALUES (%(key)s, %(type)s, %(uuid)s, %(ts)s, %(payload)s::jsonb, %(channel)s, %(now)s, %(now)s, 1,
        %(status)s, 0, %(error)s, %(source_account)s)
ON CONFLICT (dedupe_key) DO UPDATE
   SET {column} = COALESCE(rtms_inboundevent.{column}, EXCLUDED.{column}),
       source_account_id = COALESCE(rtms_inboundevent.source_account_id, EXCLUDED.source_account_id),
       delivery_count = rtms_inboundevent.delivery_count + 1
RETURNING id, (xmax = 0) AS inserted, received_at, first_channel, status
"""


@dataclass(frozen=True)
class Stored:
    event_id: int
    first: bool
    status: str


AFTER_ERASURE = "the meeting was erased: the event's payload was not kept"


def inbox_store(
    *,
    event: ZoomEvent,
    body: dict[str, object],
    channel: Channel,
    meeting_uuid: str | None = None,
    meeting_erased: bool = False,
    source_account_pk: int | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> Stored:
    """Store one delivery. Unknown event types are kept, never applied (``ignored``, once routed if they name
    a meeting). An event of
    a meeting already erased is stored ``ignored`` with a stub for its payload: it is kept (so its copies
    are recognised and counted) but nothing personal of it is."""
    now: datetime = clock.now()
    # An event type we do not parse is kept, never applied; if it names a meeting it is routed all the
    # same, so that its body (participant names, say) moves to the meeting's region (rtms/inbox/route.py).
    unparsed_alone = isinstance(event, UnknownEvent) and not meeting_uuid
    status = InboxStatus.IGNORED if unparsed_alone or meeting_erased else InboxStatus.PENDING
    stored_body = payload_stub(event.event[:100], event.event_ts, "erasure") if meeting_erased else body
    params: dict[str, str | int | datetime | None] = {
        "key": dedupe_key(event, body),
        "type": event.event[:100],
        "uuid": (meeting_uuid or "")[:128],
        "ts": event.event_ts,
        "payload": json.dumps(stored_body, ensure_ascii=False, separators=(",", ":")),
        "channel": channel.value,
        "now": now,
        "status": status.value,
        "error": AFTER_ERASURE if meeting_erased else "",
        "source_account": source_account_pk,
    }
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT.format(column=_ARRIVAL_COLUMN[channel]), params)
        event_id, inserted, first_at, first_channel, current_status = cursor.fetchone()
    metrics.DELIVERIES.labels(channel.value).inc()
    if meeting_erased:
        metrics.AFTER_ERASURE.labels(channel.value).inc()
    if inserted:
        metrics.FIRST_CHANNEL.labels(channel.value).inc()
    else:
        metrics.DUPLICATES.labels(channel.value).inc()
        if first_channel != channel.value:
            metrics.CHANNEL_LAG.labels(channel.value).observe(max(0.0, (now - first_at).total_seconds()))
    logger.info(
        "inbox.received",
        extra={
            "event_id": event_id,
            "event_type": params["type"],
            "channel": channel.value,
            "first": inserted,
        },
    )
    return Stored(event_id=event_id, first=bool(inserted), status=current_status)
