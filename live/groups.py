"""Channels group names of the live pages (the gateway spells the meeting group the same way)."""

from __future__ import annotations

LIST_GROUP = "live.meetings"


def meeting_group(meeting_id: int) -> str:
    return f"live.meeting.{meeting_id}"
