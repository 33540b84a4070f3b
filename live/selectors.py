"""Reads for the live pages: who may watch which meeting, the transcript after a cursor, state snapshots.

Transcript rows are read from the owning region's database (regions/storage.py); everything else from the
control database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from importlib import import_module
from operator import or_
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.db.models import Count, F, Q, QuerySet
from django.urls import reverse

from live.states import Shown, StateView, shown_state
from regions.access import scope_for
from regions.storage import content_alias
from rtms.lifecycle import MeetingState, StreamState
from rtms.models import Meeting, MeetingDetails, RtmsStream, StreamTransition, TranscriptSegment
from rtms.personal import details_for
from rtms.quarantine import is_quarantined
from rtms.selectors import meeting_erased

# What the page receives of a segment: ids, speaker and text (same keys as the gateway's live messages).
SEGMENT_FIELDS = ("stream_id", "seq", "speaker_id", "speaker_name", "text", "start_ms", "end_ms")

User = AbstractBaseUser | AnonymousUser
_MAX_ID = 2**63 - 1  # bigint: a larger id in a URL is simply not found


class LiveNotFound(LookupError):
    """No such meeting."""


class LiveErased(LiveNotFound):
    """The meeting was erased: nothing of it is shown any more."""


class LiveForbidden(PermissionError):
    """Not signed in as active staff."""


def is_live_viewer(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and getattr(user, "is_staff", False))


@dataclass(frozen=True)
class _SessionOnly:
    """What ``django.contrib.auth.get_user`` reads of a request: its session."""

    session: SessionBase


def viewer_now(session_key: str | None) -> User:
    """The user an open socket's session stands for now, read afresh (a socket's scope keeps the user of its
    connect). Anonymous when the session ended (logout, expiry, a password change) or its user is gone or
    inactive, exactly as Django decides for a request."""
    if not session_key:
        return AnonymousUser()
    return get_user(_SessionOnly(import_module(settings.SESSION_ENGINE).SessionStore(session_key)))  # type: ignore[arg-type]


def meeting_for_viewer(user: User, meeting_id: int) -> Meeting:
    """The meeting, if ``user`` may watch it. Staff are checked before existence, and a meeting outside the
    user's regions is as not found as a missing one (issue #20): no answer tells which ids exist."""
    if not is_live_viewer(user):
        raise LiveForbidden("staff only")
    if not 0 < meeting_id <= _MAX_ID:
        raise LiveNotFound(meeting_id)
    meeting = Meeting.objects.select_related("region").filter(pk=meeting_id).first()
    if meeting is None:
        raise LiveNotFound(meeting_id)
    scope = scope_for(user)
    if meeting.region is not None and not scope.allows(meeting.region.code):
        raise LiveNotFound(meeting_id)
    if meeting.region is None and not (scope.quarantine and is_quarantined(meeting)):
        raise LiveNotFound(meeting_id)
    if meeting_erased(pk=meeting.pk):
        raise LiveErased(meeting_id)
    return meeting


def meeting_title(meeting: Meeting, details: MeetingDetails | None) -> str:
    return (details.topic if details else "") or f"Meeting {meeting.zoom_meeting_id or meeting.pk}"


def newest_stream_id(meeting_id: int) -> int | None:
    return (
        RtmsStream.objects.filter(meeting_id=meeting_id).order_by("-id").values_list("pk", flat=True).first()
    )


def streams_of_meeting(meeting_id: int, among: Iterable[int]) -> set[int]:
    """Which of ``among`` are streams of the meeting (a live page forwards only those)."""
    return set(
        RtmsStream.objects.filter(meeting_id=meeting_id, pk__in=list(among)).values_list("pk", flat=True)
    )


def _unseen(meeting: Meeting, seen: dict[int, int]) -> QuerySet[TranscriptSegment]:
    assert meeting.region is not None
    code = meeting.region.code
    qs = TranscriptSegment.objects.using(content_alias(code)).filter(region_code=code, meeting_id=meeting.pk)
    if seen:
        known = [Q(stream_id=stream_id, seq__gt=seq) for stream_id, seq in seen.items()]
        qs = qs.filter(reduce(or_, known, ~Q(stream_id__in=list(seen))))
    return qs


def segments_after(
    meeting: Meeting, seen: dict[int, int], *, limit: int | None = None
) -> list[dict[str, Any]]:
    """The meeting's segments the reader has not seen (by stream and seq), ordered by stream, then seq; at
    most ``limit`` of them. Read again with ``seen`` advanced past the last one, it gives the next page."""
    if meeting.region is None:
        return []  # quarantined: no region, no content by construction
    rows = _unseen(meeting, seen).order_by("stream_id", "seq").values(*SEGMENT_FIELDS)
    return list(rows if limit is None else rows[:limit])


def segments_after_count(meeting: Meeting, seen: dict[int, int]) -> int:
    return 0 if meeting.region is None else _unseen(meeting, seen).count()


def segments_of_stream_after(meeting: Meeting, stream_id: int, after_seq: int) -> list[dict[str, Any]]:
    if meeting.region is None:
        return []
    code = meeting.region.code
    return list(
        TranscriptSegment.objects.using(content_alias(code))
        .filter(region_code=code, meeting_id=meeting.pk, stream_id=stream_id, seq__gt=after_seq)
        .order_by("seq")
        .values(*SEGMENT_FIELDS)
    )


def meeting_state_view(meeting_id: int, meeting_state: str) -> StateView:
    stream = RtmsStream.objects.filter(meeting_id=meeting_id).order_by("-id").values("pk", "state").first()
    if stream is None:
        return StateView(meeting_id, None, 0, shown_state(meeting_state, None))
    last = (
        StreamTransition.objects.filter(stream_id=stream["pk"])
        .order_by("-id")
        .values_list("pk", flat=True)
        .first()
    )
    return StateView(meeting_id, stream["pk"], last or 0, shown_state(meeting_state, stream["state"]))


# --- the list of live meetings -----------------------------------------------------------------------


@dataclass(frozen=True)
class MeetingRow:
    meeting_id: int
    title: str
    region_code: str
    region_name: str
    started_at: datetime | None
    shown: Shown
    stream_since: datetime | None
    interruptions: int  # of the newest stream: how often it was lost so far
    url: str

    def as_message(self) -> dict[str, object]:
        return {
            "meeting_id": self.meeting_id,
            "title": self.title,
            "region_code": self.region_code,
            "region_name": self.region_name,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "state": self.shown.value,
            "stream_since": self.stream_since.isoformat() if self.stream_since else None,
            "interruptions": self.interruptions,
            "url": self.url,
        }


def _rows(meetings: Iterable[Meeting]) -> list[MeetingRow]:
    meetings = list(meetings)
    newest: dict[int, RtmsStream] = {}
    for candidate in (
        RtmsStream.objects.filter(meeting__in=meetings).order_by("meeting_id", "-id").distinct("meeting_id")
    ):
        newest[candidate.meeting_id] = candidate
    interruptions = dict(
        StreamTransition.objects.filter(
            stream_id__in=[s.pk for s in newest.values()], to_state=StreamState.INTERRUPTED
        )
        .values("stream_id")
        .annotate(n=Count("id"))
        .values_list("stream_id", "n")
    )
    details = details_for(meetings)  # topics are in the regions' databases
    rows = []
    for m in meetings:
        stream = newest.get(m.pk)
        assert m.region is not None
        rows.append(
            MeetingRow(
                meeting_id=m.pk,
                title=meeting_title(m, details.get(m.pk)),
                region_code=m.region.code,
                region_name=m.region.name,
                started_at=m.started_at or m.created_at,
                shown=shown_state(m.state, stream.state if stream else None),
                stream_since=(stream.state_changed_at or stream.created_at) if stream else None,
                interruptions=interruptions.get(stream.pk, 0) if stream else 0,
                url=reverse("live:meeting", args=[m.pk]),
            )
        )
    return rows


def _live_meetings_for(user: User) -> Any:
    scope = scope_for(user)
    qs = Meeting.objects.select_related("region").filter(state=MeetingState.LIVE, region__isnull=False)
    if not scope.all_regions:
        qs = qs.filter(region__code__in=sorted(scope.region_codes))
    return qs


def live_meeting_rows(user: User) -> list[MeetingRow]:
    """Meetings live now in the regions ``user`` may see, newest first."""
    if not is_live_viewer(user):
        return []
    return _rows(_live_meetings_for(user).order_by(F("started_at").desc(nulls_last=True), "-id"))


def live_meeting_row(user: User, meeting_id: int) -> MeetingRow | None:
    """One row of the list, or None if the meeting is not (or no longer) live in the user's regions."""
    if not is_live_viewer(user):
        return None
    rows = _rows(_live_meetings_for(user).filter(pk=meeting_id))
    return rows[0] if rows else None
