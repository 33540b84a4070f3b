"""Writes of the live pages: every view of a transcript is audited (a disclosure of personal data)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from rtms.models import AuditLog, Meeting
from rtms.services import audit_record

VIEW_ACTION = "transcript.view"


def transcript_view_record(
    user: AbstractBaseUser | AnonymousUser,
    meeting: Meeting,
    *,
    surface: str,
    source_ip: str | None,
    segments: int,
    cursor: str = "",
) -> AuditLog:
    """``surface`` is "page" (the HTML page) or "websocket" (each connect, including reconnects)."""
    return audit_record(
        actor=user.get_username(),
        action=VIEW_ACTION,
        object_type="meeting",
        object_id=meeting.pk,
        region_code=meeting.region.code if meeting.region else "",
        source_ip=source_ip,
        detail={"via": "live", "surface": surface, "segments": segments, "after": cursor},
    )
