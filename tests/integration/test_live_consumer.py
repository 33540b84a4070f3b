"""The live transcript socket ``ws/live/<meeting>/`` through the real ASGI stack (origin check, session
auth) with WebsocketCommunicator, on PostgreSQL and the Redis channel layer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, User
from django.db import connections
from django.test import Client

from controlplane.asgi import application
from live.groups import meeting_group
from live.publish import PUBLISHER
from regions.access import group_name_for
from regions.models import Region
from rtms.gateway.segments import Segment, segments_write
from rtms.hooks import publish_segments
from rtms.lifecycle import MeetingState, StreamState
from rtms.models import AuditLog, Meeting, RtmsStream
from rtms.services import meeting_transition, stream_transition
from tests.e2e.harness import PrivateRedis
from tests.integration.conftest import EU_ALIAS, AddSegments, MakeMeeting, MakeStream

# The consumer reads on its own database thread: the rows must be committed (transactional tests).
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", EU_ALIAS])

Cookie = Callable[..., str]
TIMEOUT = 10


@pytest.fixture(autouse=True)
async def _close_database_thread() -> AsyncIterator[None]:
    yield
    # The consumer's queries ran on asgiref's database thread; its connection must not outlive the test
    # (the test database could not be dropped at the end).
    await sync_to_async(connections.close_all)()


@pytest.fixture
def session_cookie() -> Cookie:
    def make(username: str, *, region: str | None = None, staff: bool = True, superuser: bool = False) -> str:
        user = User.objects.create_user(
            username, password="pw-123456", is_staff=staff, is_superuser=superuser
        )
        if region is not None:
            user.groups.add(Group.objects.get_or_create(name=group_name_for(region))[0])
        client = Client()
        client.force_login(user)
        return f"sessionid={client.cookies['sessionid'].value}"

    return make


def _socket(path: str, cookie: str | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def _open(path: str, cookie: str | None) -> WebsocketCommunicator:
    ws = _socket(path, cookie)
    connected, _ = await ws.connect(timeout=TIMEOUT)
    assert connected
    return ws


async def _until(ws: WebsocketCommunicator, kind: str) -> list[dict[str, Any]]:
    """Messages up to and including the first of type ``kind``."""
    seen = []
    while True:
        message = await ws.receive_json_from(timeout=TIMEOUT)
        seen.append(message)
        if message["type"] == kind:
            return seen


def _segments(messages: list[dict[str, Any]]) -> list[tuple[int, int, str]]:
    return [
        (s["stream_id"], s["seq"], s["text"])
        for m in messages
        if m["type"] == "segments"
        for s in m["segments"]
    ]


async def _close_code(ws: WebsocketCommunicator) -> int:
    output = await ws.receive_output(timeout=TIMEOUT)
    assert output["type"] == "websocket.close", output
    return int(output["code"])


def _gateway_segment(stream: RtmsStream, seq: int, text: str) -> Segment:
    assert stream.region is not None
    return Segment(
        stream.region.code, stream.meeting_id, stream.pk, seq, 7, "Anna", text, 1000 * seq, None, 9
    )


async def _gateway_flush(segments: list[Segment]) -> None:
    """What the gateway does per flush: commit, then publish to the meeting's group."""
    await sync_to_async(segments_write)(segments)
    await publish_segments(segments)


@pytest.fixture
def eu_meeting(
    eu: Region, make_meeting: MakeMeeting, make_held_stream: MakeStream, add_segments: AddSegments
) -> Meeting:
    meeting = make_meeting(eu, topic="EU board meeting")
    stream = make_held_stream(meeting, state=StreamState.CONNECTED)
    add_segments(stream, [("Anna", "one"), ("Ben", "two"), ("Anna", "three")])
    return meeting


# --- authorization -------------------------------------------------------------------------------------
async def test_connect_is_refused_with_4404_when_the_user_has_not_the_regions_group(
    eu_meeting: Meeting, session_cookie: Cookie
) -> None:
    cookie = await sync_to_async(session_cookie)("ulla", region="us-east")
    ws = await _open(f"/ws/live/{eu_meeting.pk}/", cookie)
    assert await _close_code(ws) == 4404  # as an unknown meeting (issue #20)
    await ws.disconnect()
    assert not await sync_to_async(AuditLog.objects.filter(action="transcript.view").exists)()


@pytest.mark.parametrize("who", ["anonymous", "not-staff"])
async def test_connect_is_refused_with_4403_when_not_signed_in_as_staff(
    eu_meeting: Meeting, session_cookie: Cookie, who: str
) -> None:
    cookie = (
        None
        if who == "anonymous"
        else await sync_to_async(session_cookie)("nina", region="eu-central", staff=False)
    )
    ws = await _open(f"/ws/live/{eu_meeting.pk}/", cookie)
    assert await _close_code(ws) == 4403
    await ws.disconnect()


async def test_connect_is_refused_with_4404_when_the_meeting_is_unknown(
    eu_meeting: Meeting, session_cookie: Cookie
) -> None:
    cookie = await sync_to_async(session_cookie)("root", superuser=True)
    for meeting_id in (eu_meeting.pk + 1000, 10**30):
        ws = await _open(f"/ws/live/{meeting_id}/", cookie)
        assert await _close_code(ws) == 4404
        await ws.disconnect()


@pytest.mark.parametrize("after", ["abc", "1:x", "1:2:3", "-5", "1:99999999999999999999"])
async def test_a_malformed_cursor_is_refused_with_4400(
    eu_meeting: Meeting, session_cookie: Cookie, after: str
) -> None:
    cookie = await sync_to_async(session_cookie)("eva", region="eu-central")
    ws = await _open(f"/ws/live/{eu_meeting.pk}/?after={after}", cookie)
    assert await _close_code(ws) == 4400
    await ws.disconnect()


# --- catch-up, live, cursor ----------------------------------------------------------------------------
async def test_catch_up_then_live_segments_without_duplicates_when_a_segment_is_in_both(
    eu_meeting: Meeting, session_cookie: Cookie
) -> None:
    cookie = await sync_to_async(session_cookie)("eva", region="eu-central")
    stream = await sync_to_async(RtmsStream.objects.select_related("region").get)(meeting=eu_meeting)
    ws = await _open(f"/ws/live/{eu_meeting.pk}/", cookie)
    first = await _until(ws, "caught_up")
    assert _segments(first) == [(stream.pk, 1, "one"), (stream.pk, 2, "two"), (stream.pk, 3, "three")]
    state = next(m for m in first if m["type"] == "state")
    assert state["state"] == "live" and state["stream_id"] == stream.pk
    assert first[-1]["cursor"] == f"{stream.pk}:3"

    # seq 3 was in the catch-up; a late publish of it (committed before, published after) is not resent.
    await publish_segments([_gateway_segment(stream, 3, "three")])
    await _gateway_flush([_gateway_segment(stream, 4, "four"), _gateway_segment(stream, 5, "five")])
    message = await ws.receive_json_from(timeout=TIMEOUT)
    assert _segments([message]) == [(stream.pk, 4, "four"), (stream.pk, 5, "five")]
    await publish_segments([_gateway_segment(stream, 5, "five")])
    assert await ws.receive_nothing(timeout=0.5)
    await ws.disconnect()


async def test_a_reconnect_with_after_gets_only_what_it_missed(
    eu_meeting: Meeting, session_cookie: Cookie
) -> None:
    cookie = await sync_to_async(session_cookie)("eva", region="eu-central")
    stream = await sync_to_async(RtmsStream.objects.select_related("region").get)(meeting=eu_meeting)
    for after in (f"{stream.pk}:2", "2"):  # the page's form and the short form
        ws = await _open(f"/ws/live/{eu_meeting.pk}/?after={after}", cookie)
        messages = await _until(ws, "caught_up")
        assert _segments(messages) == [(stream.pk, 3, "three")]
        await ws.disconnect()


async def test_the_cursor_is_per_stream_when_a_meeting_has_a_second_stream(
    eu_meeting: Meeting, session_cookie: Cookie, make_held_stream: MakeStream, add_segments: AddSegments
) -> None:
    cookie = await sync_to_async(session_cookie)("eva", region="eu-central")
    first = await sync_to_async(RtmsStream.objects.get)(meeting=eu_meeting)
    await sync_to_async(stream_transition)(first.pk, StreamState.STOPPED, cause="test")
    second = await sync_to_async(make_held_stream)(eu_meeting, state=StreamState.CONNECTED)
    await sync_to_async(add_segments)(second, [("Chloé", "again one"), ("Chloé", "again two")])

    ws = await _open(f"/ws/live/{eu_meeting.pk}/?after={first.pk}:3,{second.pk}:1", cookie)
    messages = await _until(ws, "caught_up")
    assert _segments(messages) == [(second.pk, 2, "again two")]
    await ws.disconnect()

    # The short form means the newest stream; older streams come whole (the page drops what it has).
    ws = await _open(f"/ws/live/{eu_meeting.pk}/?after=1", cookie)
    messages = await _until(ws, "caught_up")
    assert [(s, q) for s, q, _ in _segments(messages)] == [
        (first.pk, 1),
        (first.pk, 2),
        (first.pk, 3),
        (second.pk, 2),
    ]
    await ws.disconnect()


async def test_a_lost_live_message_is_filled_from_the_database(
    eu_meeting: Meeting, session_cookie: Cookie
) -> None:
    cookie = await sync_to_async(session_cookie)("eva", region="eu-central")
    stream = await sync_to_async(RtmsStream.objects.select_related("region").get)(meeting=eu_meeting)
    ws = await _open(f"/ws/live/{eu_meeting.pk}/", cookie)
    await _until(ws, "caught_up")
    await sync_to_async(segments_write)([_gateway_segment(stream, 4, "four")])  # its publish was lost
    await _gateway_flush([_gateway_segment(stream, 5, "five")])
    message = await ws.receive_json_from(timeout=TIMEOUT)
    assert _segments([message]) == [(stream.pk, 4, "four"), (stream.pk, 5, "five")]
    await ws.disconnect()


async def test_segments_of_a_stream_that_is_not_the_meetings_are_never_forwarded(
    eu_meeting: Meeting, session_cookie: Cookie, make_meeting: MakeMeeting, make_held_stream: MakeStream
) -> None:
    """Issue #19: whatever reaches the meeting's group (once, another deployment's gateway on the same
    Redis), the page shows only lines of the meeting's own streams."""
    cookie = await sync_to_async(session_cookie)("eva", region="eu-central")
    stream = await sync_to_async(RtmsStream.objects.select_related("region").get)(meeting=eu_meeting)
    other_meeting = await sync_to_async(make_meeting)(stream.region, topic="Someone else's")
    other = await sync_to_async(make_held_stream)(other_meeting, state=StreamState.CONNECTED)
    ws = await _open(f"/ws/live/{eu_meeting.pk}/", cookie)
    await _until(ws, "caught_up")

    # A foreign stream's lines sent to this meeting's group, once claiming this meeting's id, once an
    # unknown stream id: neither is forwarded, nor read as a hole to fill.
    foreign = _gateway_segment(other, 1, "not yours")
    claimed = Segment(
        foreign.region_code, eu_meeting.pk, other.pk, 9, 1, "Mallory", "not yours either", 0, None, 9
    )
    unknown = Segment(foreign.region_code, eu_meeting.pk, 987654, 1, 1, "Mallory", "nor this", 0, None, 9)
    layer = get_channel_layer()
    assert layer is not None
    for segment in (claimed, unknown):
        await layer.group_send(
            meeting_group(eu_meeting.pk), {"type": "transcript.segments", "segments": [segment.as_message()]}
        )
    assert await ws.receive_nothing(timeout=0.5)

    await _gateway_flush([_gateway_segment(stream, 4, "four")])  # its own lines still flow
    message = await ws.receive_json_from(timeout=TIMEOUT)
    assert _segments([message]) == [(stream.pk, 4, "four")]
    await ws.disconnect()


@pytest.fixture
def region_redis() -> Iterator[str]:
    """A Redis server of the EU region's own, for its live text (REGION_CHANNEL_LAYERS)."""
    server = PrivateRedis().start()
    try:
        yield server.url
    finally:
        server.stop()


async def test_a_regions_live_text_travels_through_its_own_redis_when_one_is_configured(
    eu_meeting: Meeting, session_cookie: Cookie, region_redis: str, settings: Any
) -> None:
    """Issue #19: with REGION_CHANNEL_LAYERS, an EU meeting's transcript text never passes through the
    deployment's shared Redis; the page still gets it, and its state changes, live."""
    prefix = settings.CHANNEL_LAYER_PREFIX
    settings.REGION_CHANNEL_LAYERS = {"eu-central": region_redis}
    settings.CHANNEL_LAYERS = {
        **settings.CHANNEL_LAYERS,
        "region_eu_central": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [region_redis], "prefix": prefix},
        },
    }
    shared = redis.Redis.from_url(settings.REDIS_URL)
    watch = shared.pubsub()  # type: ignore[no-untyped-call]
    watch.psubscribe(f"{prefix}*")
    try:
        cookie = await sync_to_async(session_cookie)("eva", region="eu-central")
        stream = await sync_to_async(RtmsStream.objects.select_related("region").get)(meeting=eu_meeting)
        ws = await _open(f"/ws/live/{eu_meeting.pk}/", cookie)
        await _until(ws, "caught_up")

        await _gateway_flush([_gateway_segment(stream, 4, "only through the EU's own Redis")])
        message = await ws.receive_json_from(timeout=TIMEOUT)
        assert _segments([message]) == [(stream.pk, 4, "only through the EU's own Redis")]

        seen_on_shared = []
        deadline = asyncio.get_running_loop().time() + 1.0
        while asyncio.get_running_loop().time() < deadline:
            got = await sync_to_async(watch.get_message)(timeout=0.1)
            if got is not None and got.get("type") == "pmessage":
                seen_on_shared.append(got["data"])
        assert not any(b"only through" in data for data in seen_on_shared)
        await ws.disconnect()
    finally:
        watch.close()
        shared.close()


async def test_every_connect_is_written_to_the_audit_log(eu_meeting: Meeting, session_cookie: Cookie) -> None:
    cookie = await sync_to_async(session_cookie)("eva", region="eu-central")
    for _ in range(2):
        ws = await _open(f"/ws/live/{eu_meeting.pk}/", cookie)
        await _until(ws, "caught_up")
        await ws.disconnect()
    rows: list[AuditLog] = await sync_to_async(
        lambda: list(AuditLog.objects.filter(action="transcript.view").order_by("id"))
    )()
    assert len(rows) == 2
    assert {(r.actor, r.object_type, r.object_id, r.region_code) for r in rows} == {
        ("eva", "meeting", str(eu_meeting.pk), "eu-central")
    }
    assert rows[0].detail["via"] == "live" and rows[0].detail["surface"] == "websocket"


# --- state changes -------------------------------------------------------------------------------------
async def test_state_changes_reach_the_page_after_commit_in_plain_words(
    eu_meeting: Meeting, session_cookie: Cookie
) -> None:
    cookie = await sync_to_async(session_cookie)("eva", region="eu-central")
    stream = await sync_to_async(RtmsStream.objects.get)(meeting=eu_meeting)
    ws = await _open(f"/ws/live/{eu_meeting.pk}/", cookie)
    await _until(ws, "caught_up")

    await sync_to_async(stream_transition)(stream.pk, StreamState.INTERRUPTED, cause="test")
    assert (await _until(ws, "state"))[-1]["state"] == "interrupted"
    await sync_to_async(stream_transition)(stream.pk, StreamState.CONNECTING, cause="test")
    assert (await _until(ws, "state"))[-1]["state"] == "connecting"
    await sync_to_async(stream_transition)(stream.pk, StreamState.CONNECTED, cause="test")
    assert (await _until(ws, "state"))[-1]["state"] == "live"
    await sync_to_async(meeting_transition)(eu_meeting.pk, MeetingState.ENDED, cause="test")
    assert (await _until(ws, "state"))[-1]["state"] == "ended"
    await ws.disconnect()


async def test_a_transition_succeeds_when_redis_is_unreachable(eu_meeting: Meeting, settings: Any) -> None:
    from live.publish import StatePublisher

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"], "prefix": "rtms-live"},
        }
    }
    publisher = StatePublisher()  # a fresh one, so it builds its layer from the broken settings
    stream = await sync_to_async(RtmsStream.objects.get)(meeting=eu_meeting)
    import live.publish as publish_module

    original, publish_module.PUBLISHER = publish_module.PUBLISHER, publisher
    try:
        result = await sync_to_async(stream_transition)(stream.pk, StreamState.INTERRUPTED, cause="test")
        assert result.applied
        assert await asyncio.to_thread(publisher.wait_idle, 10)
    finally:
        publish_module.PUBLISHER = original
    assert (
        await sync_to_async(lambda: RtmsStream.objects.get(pk=stream.pk).state)() == StreamState.INTERRUPTED
    )


# --- the list socket -----------------------------------------------------------------------------------
async def test_the_list_socket_sends_rows_of_the_users_regions_only(
    eu: Region, us: Region, make_meeting: MakeMeeting, make_held_stream: MakeStream, session_cookie: Cookie
) -> None:
    cookie = await sync_to_async(session_cookie)("eva", region="eu-central")
    ws = await _open("/ws/live/", cookie)
    assert (await ws.receive_json_from(timeout=TIMEOUT))["type"] == "ready"
    us_stream = await sync_to_async(make_held_stream)(await sync_to_async(make_meeting)(us, topic="US call"))
    eu_meeting = await sync_to_async(make_meeting)(eu, topic="EU call")
    eu_stream = await sync_to_async(make_held_stream)(eu_meeting)
    await sync_to_async(stream_transition)(us_stream.pk, StreamState.CONNECTING, cause="test")
    await sync_to_async(stream_transition)(eu_stream.pk, StreamState.CONNECTING, cause="test")
    rows: list[dict[str, Any]] = []
    while len(rows) < 2:  # the stream's creation, then its move to connecting
        message = await ws.receive_json_from(timeout=TIMEOUT)
        assert message["type"] == "meeting"
        rows.append(message["row"])
    assert {r["title"] for r in rows} == {"EU call"}
    assert rows[-1]["state"] == "connecting" and rows[-1]["region_code"] == "eu-central"
    await sync_to_async(meeting_transition)(eu_meeting.pk, MeetingState.ENDED, cause="test")
    assert await ws.receive_json_from(timeout=TIMEOUT) == {"type": "gone", "meeting_id": eu_meeting.pk}
    await ws.disconnect()
    assert PUBLISHER.wait_idle()


async def test_the_list_socket_is_refused_with_4403_when_not_staff(session_cookie: Cookie) -> None:
    ws = await _open("/ws/live/", None)
    assert await _close_code(ws) == 4403
    await ws.disconnect()
