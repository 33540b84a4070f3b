"""The live pages, part of the admin site: ``/live/`` (meetings live now) and ``/live/<meeting>/``.

Both render everything they know on the server (the page works, read-only, without JavaScript); live.js
then keeps them current over ``ws/live/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from controlplane.client_ip import client_ip
from live.consumers import CATCH_UP_CHUNK
from live.cursor import format_cursor, fresh_segments
from live.selectors import (
    LiveForbidden,
    LiveNotFound,
    live_meeting_rows,
    meeting_for_viewer,
    meeting_state_view,
    meeting_title,
    segments_after,
)
from live.services import transcript_view_record
from live.states import EXPLANATIONS
from rtms.personal import details_of

# start_ms from Zoom is epoch milliseconds; smaller values are offsets into the meeting (older data, tests).
_EPOCH_MS_FLOOR = 10**12


PAGE_SEGMENTS = CATCH_UP_CHUNK  # lines the page itself shows; the socket sends the rest


def time_label(start_ms: int | None) -> tuple[str, str]:
    """(visible label, machine-readable value) for a segment's start: UTC time of day, or an offset."""
    if start_ms is None:
        return "", ""
    if start_ms >= _EPOCH_MS_FLOOR:
        at = datetime.fromtimestamp(start_ms / 1000, tz=UTC)
        return at.strftime("%H:%M:%S"), at.isoformat(timespec="milliseconds")
    seconds = start_ms // 1000
    return f"+{seconds // 60:02d}:{seconds % 60:02d}", f"PT{seconds}S"


@dataclass
class Turn:
    """Consecutive lines of one speaker."""

    speaker: str
    lines: list[dict[str, Any]] = field(default_factory=list)


def speaker_turns(segments: list[dict[str, Any]]) -> list[Turn]:
    turns: list[Turn] = []
    for segment in segments:
        speaker = segment["speaker_name"] or "Unknown speaker"
        label, value = time_label(segment["start_ms"])
        line = {**segment, "time_label": label, "time_value": value}
        if turns and turns[-1].speaker == speaker:
            turns[-1].lines.append(line)
        else:
            turns.append(Turn(speaker, [line]))
    return turns


def content_security_policy(request: HttpRequest) -> str:
    """Scripts, styles and connections from this origin only: no inline script, style or handler runs.
    The WebSocket origin is named because browsers do not all count ws:// as 'self' for an http page."""
    socket_origin = f"{'wss' if request.is_secure() else 'ws'}://{request.get_host()}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {socket_origin}; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )


View = Callable[..., HttpResponse]


def strict_csp(view: View) -> View:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response.setdefault("Content-Security-Policy", content_security_policy(request))
        return response

    return wrapped


def _admin_context(request: HttpRequest, title: str) -> dict[str, Any]:
    return {**admin.site.each_context(request), "title": title}


@strict_csp
@staff_member_required
def meeting_list(request: HttpRequest) -> HttpResponse:
    context = _admin_context(request, "Live meetings")
    context["rows"] = live_meeting_rows(request.user)
    return render(request, "live/meeting_list.html", context)


@strict_csp
@staff_member_required
def meeting_detail(request: HttpRequest, meeting_id: int) -> HttpResponse:
    try:
        meeting = meeting_for_viewer(request.user, meeting_id)
    except (LiveNotFound, LiveForbidden):  # staff_member_required let only staff in; the rest is 404
        raise Http404("No such meeting") from None
    # The first page only (issue #20: a long meeting is never read whole); the page's socket catches up on
    # the rest from the cursor, in pages too (live/consumers.py).
    seen: dict[int, int] = {}
    segments = fresh_segments(seen, segments_after(meeting, seen, limit=PAGE_SEGMENTS))
    state = meeting_state_view(meeting.pk, meeting.state)
    transcript_view_record(
        request.user,
        meeting,
        surface="page",
        source_ip=client_ip(request),
        segments=len(segments),
    )
    title = meeting_title(meeting, details_of(meeting))
    context = _admin_context(request, title)
    context.update(
        {
            "meeting": meeting,
            "turns": speaker_turns(segments),
            "segment_count": len(segments),
            "cursor": format_cursor(seen),
            "state": state,
            "explanation": EXPLANATIONS[state.shown],
        }
    )
    return render(request, "live/meeting_detail.html", context)
