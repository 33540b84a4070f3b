"""Writes of the live pages: every view of a transcript is audited (a disclosure of personal data)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from rtms.models import AuditLog, Meeting
from rtms.services import ContentAccess, content_access_record

VIEW_ACTION = ContentAccess.TRANSCRIPT_VIEW.value


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
    return content_access_record(
        ContentAccess.TRANSCRIPT_VIEW,
        actor=user.get_username(),
        via="live",
        meeting_ids=[meeting.pk],
        region_code=meeting.region_code,
        source_ip=source_ip,
        detail={"surface": surface, "segments": segments, "after": cursor},
    )
