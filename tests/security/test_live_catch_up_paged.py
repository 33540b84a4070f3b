"""Issue #20, item 10: the live socket's catch-up read a meeting's whole transcript into memory before
sending it in chunks, and the page /live/<id>/ rendered it whole. The socket now reads page after page,
each at most one chunk, and audits the view first with the number of segments it will send; the page
shows its first page and leaves the rest to its socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.test import Client

from live import consumers, selectors, views
from regions.models import Region
from rtms.lifecycle import StreamState
from rtms.models import AuditLog
from tests.integration.conftest import EU_ALIAS, AddSegments, MakeMeeting, MakeStream
from tests.integration.test_live_consumer import Cookie, _open, _segments, _until

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", EU_ALIAS])

CHUNK = 40


@pytest.fixture(autouse=True)
async def _close_database_thread() -> AsyncIterator[None]:
    yield
    await sync_to_async(connections.close_all)()


async def test_the_catch_up_reads_one_page_at_a_time(
    eu: Region,
    make_meeting: MakeMeeting,
    make_stream: MakeStream,
    add_segments: AddSegments,
    session_cookie: Cookie,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    meeting = await sync_to_async(make_meeting)(eu, topic="Long meeting")
    first = await sync_to_async(make_stream)(meeting, state=StreamState.STOPPED)
    second = await sync_to_async(make_stream)(meeting, state=StreamState.CONNECTED)
    await sync_to_async(add_segments)(first, [("Anna", f"a{i}") for i in range(1, 71)])
    await sync_to_async(add_segments)(second, [("Ben", f"b{i}") for i in range(1, 56)])
    reads: list[int] = []
    real = selectors.segments_after

    def counted(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        rows = real(*args, **kwargs)
        reads.append(len(rows))
        return rows

    monkeypatch.setattr(consumers, "CATCH_UP_CHUNK", CHUNK)
    monkeypatch.setattr(consumers, "segments_after", counted)
    cookie = await sync_to_async(session_cookie)("eva", region="eu-central")
    ws = await _open(f"/ws/live/{meeting.pk}/", cookie)
    messages = await _until(ws, "caught_up")
    await ws.disconnect()

    expected = [(first.pk, i, f"a{i}") for i in range(1, 71)] + [
        (second.pk, i, f"b{i}") for i in range(1, 56)
    ]
    assert _segments(messages) == expected  # all of it, in order, once
    assert max(reads) <= CHUNK and sum(reads) == 125 and len(reads) >= 4
    assert messages[-1]["cursor"] == f"{first.pk}:70,{second.pk}:55"
    audit = await sync_to_async(AuditLog.objects.get)(action="transcript.view")
    assert audit.detail["segments"] == 125 and audit.detail["surface"] == "websocket"


async def test_the_page_shows_its_first_page_and_the_socket_sends_the_rest(
    eu: Region,
    make_meeting: MakeMeeting,
    make_stream: MakeStream,
    add_segments: AddSegments,
    session_cookie: Cookie,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """/live/<id>/ rendered the whole stored transcript in one response; now its first page, and the
    socket it opens (after the page's cursor) sends the rest, in pages."""
    meeting = await sync_to_async(make_meeting)(eu, topic="Long meeting")
    stream = await sync_to_async(make_stream)(meeting, state=StreamState.CONNECTED)
    await sync_to_async(add_segments)(stream, [("Anna", f"line-{i:03d}") for i in range(1, 126)])
    monkeypatch.setattr(views, "PAGE_SEGMENTS", CHUNK)
    cookie = await sync_to_async(session_cookie)("eva", region="eu-central")

    def page() -> Any:
        client = Client()
        client.cookies["sessionid"] = cookie.partition("=")[2]
        return client.get(f"/live/{meeting.pk}/")

    response = await sync_to_async(page)()
    html = response.content.decode()
    assert response.status_code == 200
    assert "line-040" in html and "line-041" not in html
    cursor = response.context["cursor"]
    assert cursor == f"{stream.pk}:40"
    ws = await _open(f"/ws/live/{meeting.pk}/?after={cursor}", cookie)
    messages = await _until(ws, "caught_up")
    await ws.disconnect()
    assert _segments(messages) == [(stream.pk, i, f"line-{i:03d}") for i in range(41, 126)]
