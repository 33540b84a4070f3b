"""Issue #20, item 1: an open live socket loses what its user lost. Before, sockets were authorized only at
connect: a user deactivated, logged out or taken out of the region's group kept receiving transcript text,
a quarantine viewer kept a meeting re-routed to the EU, and the list socket kept the user of its connect."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, User
from django.db import connections
from django.test import Client

from live.publish import PUBLISHER
from regions.access import QUARANTINE_GROUP, group_name_for
from regions.models import Region
from rtms.lifecycle import StreamState
from rtms.models import Meeting, RtmsStream
from rtms.services import stream_transition
from tests.integration.conftest import EU_ALIAS, AddSegments, MakeMeeting, MakeStream
from tests.integration.test_live_consumer import Cookie, _close_code, _open, _until

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", EU_ALIAS])

# A long periodic check: what these tests see within it comes from the signals (logout, user changes).
SLOW = 60.0
# A short one: what no signal reports (a re-routed meeting) is seen at the next check.
FAST = 0.3


@pytest.fixture(autouse=True)
async def _close_database_thread() -> AsyncIterator[None]:
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def eu_meeting(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream, add_segments: AddSegments
) -> Meeting:
    meeting = make_meeting(eu, topic="EU board meeting")
    add_segments(make_stream(meeting, state=StreamState.CONNECTED), [("Anna", "one")])
    return meeting


def _interval(settings: Any, seconds: float) -> None:
    from datetime import timedelta

    settings.LIVE_REAUTHORIZE = timedelta(seconds=seconds)


async def _watching(meeting: Meeting, cookie: str) -> Any:
    ws = await _open(f"/ws/live/{meeting.pk}/", cookie)
    await _until(ws, "caught_up")
    return ws


async def _list(cookie: str) -> Any:
    ws = await _open("/ws/live/", cookie)
    await _until(ws, "ready")
    return ws


@sync_to_async
def _user(username: str) -> User:
    return User.objects.get(username=username)


@pytest.mark.parametrize("path", ["meeting", "list"])
async def test_deactivating_the_user_closes_their_open_sockets_with_4403(
    eu_meeting: Meeting, session_cookie: Cookie, settings: Any, path: str
) -> None:
    _interval(settings, SLOW)
    cookie = await sync_to_async(session_cookie)("eva", region="eu-central")
    ws = await (_watching(eu_meeting, cookie) if path == "meeting" else _list(cookie))
    user = await _user("eva")
    user.is_active = False
    await sync_to_async(user.save)()
    assert await _close_code(ws) == 4403
    await ws.disconnect()


async def test_logging_out_closes_the_sessions_sockets_with_4403(eu_meeting: Meeting, settings: Any) -> None:
    _interval(settings, SLOW)

    def signed_in() -> tuple[Client, str]:
        user = User.objects.create_user("lou", password="pw-123456", is_staff=True)
        user.groups.add(Group.objects.get_or_create(name=group_name_for("eu-central"))[0])
        client = Client()
        client.force_login(user)
        return client, f"sessionid={client.cookies['sessionid'].value}"

    client, cookie = await sync_to_async(signed_in)()
    ws = await _watching(eu_meeting, cookie)
    await sync_to_async(client.logout)()
    assert await _close_code(ws) == 4403
    await ws.disconnect()


async def test_an_ended_session_closes_the_socket_at_the_next_check(
    eu_meeting: Meeting, session_cookie: Cookie, settings: Any
) -> None:
    """A session that expires or is deleted server-side sends no signal: the periodic check finds it."""
    _interval(settings, FAST)
    cookie = await sync_to_async(session_cookie)("eva", region="eu-central")
    ws = await _watching(eu_meeting, cookie)
    from django.contrib.sessions.models import Session

    await sync_to_async(Session.objects.all().delete)()
    assert await _close_code(ws) == 4403
    await ws.disconnect()


async def test_losing_the_regions_group_closes_the_meeting_socket_with_4404(
    eu_meeting: Meeting, session_cookie: Cookie, settings: Any
) -> None:
    _interval(settings, SLOW)
    cookie = await sync_to_async(session_cookie)("eva", region="eu-central")
    ws = await _watching(eu_meeting, cookie)

    def take_group_away() -> None:
        group = Group.objects.get(name=group_name_for("eu-central"))
        group.user_set.remove(User.objects.get(username="eva"))  # from the group's side, as an admin does

    await sync_to_async(take_group_away)()
    assert await _close_code(ws) == 4404
    await ws.disconnect()


async def test_a_quarantine_viewer_loses_a_meeting_rerouted_to_a_region_they_cannot_see(
    eu: Region, make_meeting: MakeMeeting, session_cookie: Cookie, settings: Any
) -> None:
    _interval(settings, FAST)
    quarantined = await sync_to_async(make_meeting)(None, topic="Held")
    cookie = await sync_to_async(session_cookie)("quinn", region=None)
    await sync_to_async(
        lambda: User.objects.get(username="quinn").groups.add(
            Group.objects.get_or_create(name=QUARANTINE_GROUP)[0]
        )
    )()
    ws = await _watching(quarantined, cookie)
    await sync_to_async(Meeting.objects.filter(pk=quarantined.pk).update)(region=eu, routing_status="routed")
    assert await _close_code(ws) == 4404
    await ws.disconnect()


async def test_a_demoted_superuser_stops_seeing_other_regions_on_the_list_socket(
    eu_meeting: Meeting,
    us: Region,
    make_meeting: MakeMeeting,
    make_stream: MakeStream,
    session_cookie: Cookie,
    settings: Any,
) -> None:
    _interval(settings, SLOW)
    cookie = await sync_to_async(session_cookie)("root", superuser=True)
    ws = await _list(cookie)

    def demote() -> None:
        user = User.objects.get(username="root")
        user.is_superuser = False
        user.save()
        user.groups.add(Group.objects.get_or_create(name=group_name_for("us-east"))[0])

    await sync_to_async(demote)()
    await ws.receive_nothing(timeout=1.0)  # the re-check the save asked for has run

    stream = await sync_to_async(RtmsStream.objects.get)(meeting=eu_meeting)
    await sync_to_async(stream_transition)(stream.pk, StreamState.PAUSED, cause="test")
    us_meeting = await sync_to_async(make_meeting)(us, topic="US sync")
    us_stream = await sync_to_async(make_stream)(us_meeting, state=StreamState.CONNECTING)
    await sync_to_async(stream_transition)(us_stream.pk, StreamState.CONNECTED, cause="test")
    assert await sync_to_async(PUBLISHER.wait_idle)()
    rows: list[int] = []
    while not await ws.receive_nothing(timeout=1.0):
        message = await ws.receive_json_from()
        if message["type"] == "meeting":
            rows.append(message["row"]["meeting_id"])
    assert rows and set(rows) == {us_meeting.pk}  # the EU meeting's change is no longer shown
    await ws.disconnect()
