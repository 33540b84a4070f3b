"""Shared by both channels: parse a Zoom event body, store it in the inbox, enqueue its processing after
commit. The webhook view and the event-subscription client differ only in how they authenticate."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from controlplane.clock import SYSTEM_CLOCK, Clock
from rtms.inbox import Received, inbox_receive
from rtms.models import Channel, InboxStatus
from rtms.route_publisher import ROUTE_PUBLISHER
from rtms.zoom.protocol import ProtocolError, UrlValidation, ZoomEvent, parse_event


@dataclass(frozen=True)
class Ingested:
    event: ZoomEvent
    received: Received | None  # None for events that are answered, not stored (url validation)


def enqueue_route(event_id: int) -> None:
    """Hand a committed event to a worker, soon: the process's route publisher sends it from its own
    thread (rtms/route_publisher.py), so the caller never waits for the broker. A broker that is down
    must not fail the delivery: the row is committed and the inbox sweeper re-enqueues what is pending."""
    ROUTE_PUBLISHER.submit(event_id)


def ingest(body: object, *, channel: Channel, clock: Clock = SYSTEM_CLOCK) -> Ingested:
    """Raises ProtocolError for a body that is not a well-formed Zoom event."""
    event = parse_event(body)
    if isinstance(event, UrlValidation):
        return Ingested(event=event, received=None)
    assert isinstance(body, dict)  # parse_event accepted it, so it is an object
    # One upsert statement, committed on its own: no explicit transaction around it (that would only add
    # round trips). on_commit then runs at once, or after the caller's transaction if there is one.
    received = inbox_receive(event=event, body=body, channel=channel, clock=clock)
    if received.first and received.status == InboxStatus.PENDING:
        transaction.on_commit(lambda: enqueue_route(received.event_id))
    return Ingested(event=event, received=received)


__all__ = ["Ingested", "ProtocolError", "enqueue_route", "ingest"]
