"""What the inbox keeps of an event whose personal data must go: a stub with the event type and time only.

Erasure and retention replace stored payloads with it (compliance/content.py); an event that arrives for a
meeting already erased is stored as it at once (rtms/inbox/receive.py). It lives here, below compliance,
because the inbox writes it too.
"""

from __future__ import annotations

from typing import Final

from rtms.inbox.facts import meeting_uuid_of
from rtms.zoom.protocol import UnknownEvent, ZoomEvent

# Top-level key of a payload that has been replaced by a stub; Zoom bodies never carry it.
REDACTED_KEY: Final = "redacted"


def payload_stub(event_type: str, event_ts: int, why: str) -> dict[str, object]:
    return {"event": event_type, "event_ts": event_ts, REDACTED_KEY: why}


def named_meeting_uuid(event: ZoomEvent, body: object) -> str | None:
    """The meeting (instance) uuid an event names, also for event types we do not parse: Zoom's meeting and
    participant events carry it as ``payload.object.uuid``, RTMS-style events as ``payload.meeting_uuid``."""
    known = meeting_uuid_of(event)
    if known is not None or not isinstance(event, UnknownEvent) or not isinstance(body, dict):
        return known
    payload = body.get("payload")
    if not isinstance(payload, dict):
        return None
    obj = payload.get("object")
    for candidate in (obj.get("uuid") if isinstance(obj, dict) else None, payload.get("meeting_uuid")):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None
