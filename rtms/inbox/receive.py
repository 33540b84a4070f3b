"""Receiving an event, shared by both channels: parse a Zoom event body, store it in the inbox, hand it to
the route publisher after commit. The webhook view and the event-subscription client differ only in how
they authenticate."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from controlplane.clock import SYSTEM_CLOCK, Clock
from rtms.inbox.publish import enqueue_route
from rtms.inbox.redaction import named_meeting_uuid
from rtms.inbox.refused import delivery_refuse
from rtms.inbox.store import Stored, inbox_store
from rtms.models import Channel, InboxStatus
from rtms.selectors import meeting_erased
from rtms.zoom.protocol import ProtocolError, UrlValidation, ZoomEvent, check_storable, parse_event


@dataclass(frozen=True)
class Ingested:
    event: ZoomEvent
    stored: Stored | None  # None for events that are answered, not stored (url validation)


def ingest(
    body: object, *, channel: Channel, source_account_pk: int | None = None, clock: Clock = SYSTEM_CLOCK
) -> Ingested:
    """Raises ProtocolError for a body that is not a well-formed, storable Zoom event, after counting and
    recording the refusal (rtms/inbox/refused.py): nothing of such a body is stored. ``source_account_pk``
    is the account that vouched for the delivery: its webhook secret verified it, or its event socket
    received it."""
    try:
        check_storable(body)
        event = parse_event(body)
    except ProtocolError as exc:
        delivery_refuse(channel=channel, reason=exc.reason, body=body, clock=clock)
        raise
    if isinstance(event, UrlValidation):
        return Ingested(event=event, stored=None)
    assert isinstance(body, dict)  # parse_event accepted it, so it is an object
    uuid = named_meeting_uuid(event, body)
    # An erased meeting's personal data never comes back, however late Zoom (re)sends its events.
    erased = uuid is not None and meeting_erased(zoom_uuid=uuid)
    # One upsert statement, committed on its own: no explicit transaction around it (that would only add
    # round trips). on_commit then runs at once, or after the caller's transaction if there is one.
    stored = inbox_store(
        event=event,
        body=body,
        channel=channel,
        meeting_uuid=uuid,
        meeting_erased=erased,
        source_account_pk=source_account_pk,
        clock=clock,
    )
    if stored.first and stored.status == InboxStatus.PENDING:
        transaction.on_commit(lambda: enqueue_route(stored.event_id))
    return Ingested(event=event, stored=stored)


__all__ = ["Ingested", "ProtocolError", "ingest"]
