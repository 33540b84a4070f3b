"""What an event says about its meeting: its uuid, its Zoom account and the facts residency rules match on.
Routing and applying both read events through these, so they never disagree on what an event names."""

from __future__ import annotations

from regions.residency import MeetingFacts
from rtms.models import ZoomAccount
from rtms.zoom.protocol import (
    ConcurrencyLimited,
    MeetingEnded,
    MeetingStarted,
    RtmsInterrupted,
    RtmsStarted,
    RtmsStopped,
    ZoomEvent,
)


def meeting_uuid_of(event: ZoomEvent) -> str | None:
    if isinstance(event, MeetingStarted | MeetingEnded | RtmsStarted | RtmsStopped | RtmsInterrupted):
        return event.meeting_uuid
    if isinstance(event, ConcurrencyLimited):
        return event.id_field.get("meeting_uuid")
    return None


def facts_from_event(event: ZoomEvent) -> MeetingFacts:
    if isinstance(event, MeetingStarted | MeetingEnded):
        tracking = (
            None
            if event.tracking_fields is None
            else {f.field.strip().lower(): f.value for f in event.tracking_fields}
        )
        return MeetingFacts(
            account_id=event.account_id,
            host_id=event.host_id,
            host_email=event.host_email,
            meeting_id=event.meeting_id,
            tracking_fields=tracking,
        )
    if isinstance(event, RtmsStarted):
        return MeetingFacts(account_id=event.account_id, meeting_id=event.meeting_id)
    return MeetingFacts()


def event_account_id(event: ZoomEvent) -> str | None:
    if isinstance(event, MeetingStarted | MeetingEnded | RtmsStarted):
        return event.account_id
    return None


def account_for(account_id: str | None, source_account_pk: int | None = None) -> ZoomAccount | None:
    """The account the event names; when it names none (older RTMS payloads), the one that vouched for
    its delivery. Never a default account by assumption (issue #20): with neither, routing has no account
    fact, and a rule that needs one is undecided (looked up, or quarantined)."""
    active = ZoomAccount.objects.filter(active=True)
    if account_id:
        return active.filter(zoom_account_id=account_id).first()
    if source_account_pk is not None:
        return active.filter(pk=source_account_pk).first()
    return None
