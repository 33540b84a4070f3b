"""Channels group names of the live pages (the gateway spells the meeting group the same way)."""

from __future__ import annotations

LIST_GROUP = "live.meetings"


def meeting_group(meeting_id: int) -> str:
    return f"live.meeting.{meeting_id}"


def user_group(user_id: int) -> str:
    """A user's open live sockets: told to check their access again when the user logs out or changes."""
    return f"live.user.{user_id}"
