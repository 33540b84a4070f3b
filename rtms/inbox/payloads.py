"""Where an event's body is: in the control inbox until the event is applied, then in the owning region's
database (``RoutedPayload``), with a stub left in the control row (issue #19: a region's personal data at
rest lives only in that region).

The region's own worker moves it when it applies the event (rtms/inbox/apply.py): region content is
written by the region's processes only (docs/deploy.md). The move is idempotent and ordered so that a
crash leaves the body somewhere readable: the region copy is written first; only then does the control
row (in the caller's transaction) get the stub.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import QuerySet

from regions.storage import content_alias
from rtms.inbox.redaction import REDACTED_KEY, payload_stub
from rtms.models import InboundEvent, InboxStatus, RoutedPayload

logger = logging.getLogger(__name__)

# The stub's reason for a body that moved to its region; compliance/content.py's scrubs leave it alone.
MOVED = "in the region's database"


class PayloadMissing(LookupError):
    """A routed event whose body is neither in the control row nor in its region (erased meanwhile)."""


def payload_to_region(row: InboundEvent, *, region_code: str, meeting_id: int) -> dict[str, object]:
    """Copy the row's body to the region's database (once) and return the stub the control row keeps."""
    body: Any = row.payload
    if not (isinstance(body, dict) and REDACTED_KEY in body):
        copy = RoutedPayload(
            event_id=row.pk,
            region_code=region_code,
            meeting_id=meeting_id,
            event_type=row.event_type,
            received_at=row.received_at,
            payload=body,
        )
        # One INSERT ... ON CONFLICT DO NOTHING: a copy from an earlier, rolled-back attempt is the same body.
        RoutedPayload.objects.using(content_alias(region_code)).bulk_create([copy], ignore_conflicts=True)
    return payload_stub(row.event_type, row.event_ts, MOVED)


def event_body(row: InboundEvent) -> object:
    """The event's body, wherever it is."""
    body: Any = row.payload
    if not (isinstance(body, dict) and REDACTED_KEY in body):
        return body
    if row.region_id is None:
        raise PayloadMissing(f"event {row.pk}: its body was removed")
    region_code = row.region.code  # type: ignore[union-attr]
    moved = (
        RoutedPayload.objects.using(content_alias(region_code))
        .filter(event_id=row.pk)
        .values_list("payload", flat=True)
        .first()
    )
    if moved is None:
        raise PayloadMissing(f"event {row.pk}: its body is not in region {region_code}")
    return moved


def settled_body_to_region(event_id: int) -> bool:
    """Move the body of a routed row that settled without being applied (failed, or an illegal move) to
    its region. Never raises: the region may be what failed; ``manage.py move_to_regions`` moves what is
    left, and ``check --deploy`` says so."""
    try:
        row = InboundEvent.objects.select_related("region").filter(pk=event_id, region__isnull=False).first()
        if row is None or row.status == InboxStatus.PENDING or row.region is None:
            return False
        stub = payload_to_region(row, region_code=row.region.code, meeting_id=row.meeting_id or 0)
        moved = (
            InboundEvent.objects.filter(pk=row.pk).exclude(payload__has_key=REDACTED_KEY).update(payload=stub)
        )
        return bool(moved)
    except Exception as exc:  # best effort; the body stays in control, where retention still finds it
        logger.warning("inbox.body_move_failed", extra={"event_id": event_id, "error": type(exc).__name__})
        return False


def routed_bodies_in_control() -> QuerySet[InboundEvent]:
    """Settled routed rows whose body is still in the control database: applied before bodies moved to
    their regions (issue #19), or settled after routing when the region could not take the body then.
    ``manage.py move_to_regions`` moves them; ``check --deploy`` warns while any remain (rtms/checks.py).
    Pending rows are the apply step's."""
    return (
        InboundEvent.objects.filter(region__isnull=False)
        .exclude(status=InboxStatus.PENDING)
        .exclude(payload__has_key=REDACTED_KEY)
    )


def move_routed_bodies(*, batch: int = 500) -> int:
    """Move one batch of routed bodies to their regions; returns how many moved (0: none left). Each row is
    copied to its region before its control body is replaced, so an interrupted run loses nothing and the
    next one carries on."""
    rows = list(routed_bodies_in_control().select_related("region").order_by("pk")[:batch])
    for row in rows:
        assert row.region is not None
        stub = payload_to_region(row, region_code=row.region.code, meeting_id=row.meeting_id or 0)
        InboundEvent.objects.filter(pk=row.pk).exclude(payload__has_key=REDACTED_KEY).update(payload=stub)
    return len(rows)
