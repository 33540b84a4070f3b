"""zoomsim's RTMS signaling and media servers: handshakes, media, one client per stream, keep-alives,
pause/resume, events, faults (failover, kills, stop, silence) and the ledger's accounting."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
import requests
import websockets

from tests.eventually import eventually_async
from tests.zoomsim.conftest import RTMS_APP, bearer, s2s_token
from tests.zoomsim.rtms_helpers import RtmsSession, connect, join, signature, started_payload
from zoomsim.client import SimClient, SimClientError
from zoomsim.testing import SimProcess, SimServer

SCALE = 0.02  # signaling/connect window 1.2 s, media window 0.6 s
# Keep-alives every 1 s real (3 misses: 4 s), so a busy test machine does not time sockets out;
# the keep-alive tests use Zoom's 10 s (0.2 s real).
SLOW_KEEPALIVE = 50.0


async def aw(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a blocking control-API call without blocking this loop (our sockets answer keep-alives)."""
    return await asyncio.to_thread(partial(fn, *args, **kwargs))


@pytest.fixture
def rsim(make_sim: Callable[..., SimServer]) -> SimServer:
    return make_sim(time_scale=SCALE, rtms_keepalive_interval_s=SLOW_KEEPALIVE)


@pytest.fixture
def ksim(make_sim: Callable[..., SimServer]) -> SimServer:
    return make_sim(time_scale=SCALE)


async def start_meeting(c: SimClient, **spec: Any) -> tuple[str, dict[str, Any]]:
    spec.setdefault("rtms", "auto")
    m = await aw(c.create_meeting, "host@example.com", **spec)
    payload = await aw(started_payload, c, m["meeting_uuid"])
    return m["meeting_uuid"], payload


def hs(payload: dict[str, Any], msg_type: int = 1, **override: Any) -> dict[str, Any]:
    body = {
        "msg_type": msg_type,
        "protocol_version": 1,
        "sequence": 7,
        "meeting_uuid": payload["meeting_uuid"],
        "rtms_stream_id": payload["rtms_stream_id"],
        "signature": signature(payload["meeting_uuid"], payload["rtms_stream_id"]),
        "rtms_client_agent": "test",  # unknown keys are tolerated
    }
    body.update(override)
    return body


async def close_all(*sessions: RtmsSession) -> None:
    for s in sessions:
        for m in s.media.values():
            await m.close()
        await s.signaling.close()


# ---- handshakes ---------------------------------------------------------------------------------


async def test_a_signaling_refusal_fault_refuses_the_next_handshakes_of_a_meeting_then_lets_one_in(
    rsim: SimServer,
) -> None:
    """Issue #18, cause 3: armed before the meeting's stream exists, the fault refuses its next handshakes
    with status 2 while Zoom still runs the stream; the one after them is accepted."""
    c = rsim.client
    uuid = "refused-meeting=="
    armed = await aw(c.refuse_signaling, uuid, times=2)
    assert armed == {"fault": "refuse_signaling", "meeting_uuid": uuid, "times": 2}
    _, p = await start_meeting(c, meeting_uuid=uuid)
    for _ in range(2):
        refused = await connect(p["server_urls"])
        await refused.send(hs(p))
        answer = await refused.wait(2)
        assert answer["status_code"] == 2 and answer["reason"] == "invalid rtms_stream_id"
        await refused.wait_closed()
    assert (await aw(c.stream_runtime, p["rtms_stream_id"]))["state"] == "started"  # still running
    session = await join(p)  # the third is accepted
    await close_all(session)
    faults = await aw(c.ledger, kind="fault.rtms", meeting_uuid=uuid)
    assert [f["fault"] for f in faults] == ["refuse_signaling"]
    with pytest.raises(SimClientError):
        await aw(c.refuse_signaling, uuid, times=0)


async def test_signaling_handshake_refusals_and_media_urls(rsim: SimServer) -> None:
    c = rsim.client
    uuid, p = await start_meeting(c)
    url = p["server_urls"]
    assert url.startswith("ws://127.0.0.1:") and "/rtms-sjc1/" in url and url.endswith("/signaling")

    bad = await connect(url)
    await bad.send(hs(p, signature="0" * 64))
    assert (await bad.wait(2))["status_code"] == 3
    await bad.wait_closed()

    unknown = await connect(url)
    await unknown.send(hs(p, rtms_stream_id="f" * 32, signature=signature(uuid, "f" * 32)))
    assert (await unknown.wait(2))["status_code"] == 2
    await unknown.wait_closed()

    s = await join(p, media=("transcript", "audio"))
    assert set(s.urls) == {"audio", "video", "transcript", "deskshare", "chat", "all"}
    assert all(u.startswith("ws://") for u in s.urls.values())

    dup = await connect(url)
    await dup.send(hs(p), binary=True)
    resp = await dup.wait(2)
    assert resp["status_code"] == 8 and "duplicate signal request" in resp["reason"]
    await dup.wait_closed()

    dup_media = await connect(s.urls["transcript"])
    await dup_media.send(hs(p, 3, media_type=8))
    assert (await dup_media.wait(4))["status_code"] == 16
    all_media = await connect(s.urls["all"])
    await all_media.send(hs(p, 3, media_type=32))
    assert (await all_media.wait(4))["status_code"] == 15
    wrong = await connect(s.urls["video"])
    await wrong.send(hs(p, 3, media_type=8))
    assert (await wrong.wait(4))["status_code"] == 7

    refused = await aw(c.ledger, kind="rtms.connection")
    codes = [e.get("status_code") for e in refused if e["action"] == "refused"]
    assert codes == [3, 2, 8, 16, 15, 7]
    dup_entry = [e for e in refused if e.get("status_code") == 8][0]
    assert dup_entry["signaling_open"] == 1 and dup_entry["rtms_stream_id"] == p["rtms_stream_id"]
    await close_all(s)


async def test_media_needs_signaling_and_ready_ack_before_media_flows(rsim: SimServer) -> None:
    c = rsim.client
    uuid, p = await start_meeting(
        c, transcript=[{"speaker": "A", "text": f"t{i}"} for i in range(40)], segment_interval_ms=1000
    )
    # Media first: refused (no signaling connection for the stream).
    early = await connect(p["server_urls"].replace("/signaling", "/media/transcript"))
    await early.send(hs(p, 3, media_type=8))
    assert (await early.wait(4))["status_code"] == 2
    s = await join(p, media=("transcript",), ready=False)
    # Segments spoken while this client is connected but has not sent CLIENT_READY_ACK: none reaches it.
    joined = (await aw(c.ledger))[-1]["seq"]
    await aw(c.wait_for, "rtms.segment_sent", count=3, meeting_uuid=uuid, since=joined)
    assert s.media["transcript"].of_type(17) == []
    await s.signaling.send({"msg_type": 7, "rtms_stream_id": p["rtms_stream_id"]})
    assert (await s.signaling.wait(8))["state"] == 1
    session = await s.signaling.wait(9)
    assert session["state"] == 2 and session["rtms_session_id"]
    assert (await s.signaling.wait(6))["event"]["event_type"] == 1
    await s.media["transcript"].wait(17)
    segs = await aw(c.ledger, kind="rtms.segment_sent", meeting_uuid=uuid)
    assert segs[0]["ready_client"] is False and segs[0]["delivered"] is False
    await close_all(s)


# ---- media --------------------------------------------------------------------------------------


async def test_speak_from_meeting_start_loses_what_nobody_heard(rsim: SimServer) -> None:
    c = rsim.client
    script = [{"speaker": "Eva" if i % 2 else "Raj", "text": f"line {i}"} for i in range(30)]
    uuid, p = await start_meeting(c, transcript=script, segment_interval_ms=2000)  # 40 ms real
    await aw(c.wait_for, "rtms.segment_sent", count=3, meeting_uuid=uuid)  # spoken to nobody
    s = await join(p)
    await aw(c.wait_for, "rtms.segment_sent", count=30, meeting_uuid=uuid, timeout=10)
    segs = await aw(c.ledger, kind="rtms.segment_sent", meeting_uuid=uuid)
    lost = [e["text"] for e in segs if not e["delivered"]]
    delivered = [e["text"] for e in segs if e["delivered"]]
    transcript = s.media["transcript"]
    await eventually_async(
        lambda: len(transcript.of_type(17)) >= len(delivered), what="every delivered segment read"
    )
    got = [m["content"]["data"] for m in transcript.of_type(17)]
    assert lost and lost == [f"line {i}" for i in range(len(lost))]  # the start was lost
    assert all(not e["ready_client"] for e in segs if not e["delivered"])
    assert got == delivered  # exactly what the ledger says was delivered, in order
    await close_all(s)


async def test_first_client_hears_everything_in_several_languages_with_audio(rsim: SimServer) -> None:
    c = rsim.client
    script = [
        {"speaker": "Ana", "text": "Hola a todos", "language": "es"},
        {"speaker": "Ben", "text": "Hello", "language": 9},
        {"speaker": "Ana", "text": "Guten Tag", "language": "de"},
    ]
    uuid, p = await start_meeting(c, transcript=script, speak_from="first_client", segment_interval_ms=2000)
    # The time before anyone connects is the point: had the meeting started talking, the whole script
    # (3 x 40 ms) would be spoken to nobody by now. There is no event for "nothing was said".
    await asyncio.sleep(0.3)
    s = await join(p, media=("transcript", "audio"))
    msgs = [await s.media["transcript"].wait(17) for _ in script]
    contents = [m["content"] for m in msgs]
    assert [x["data"] for x in contents] == ["Hola a todos", "Hello", "Guten Tag"]
    assert [x["language"] for x in contents] == [28, 9, 14]
    assert contents[0]["user_id"] == contents[2]["user_id"] != contents[1]["user_id"]
    for x in contents:
        assert x["start_time"] <= x["end_time"] and x["timestamp"] == x["start_time"]
        assert x["user_name"] in ("Ana", "Ben")
    audio = await s.media["audio"].wait(14)
    assert audio["content"]["user_id"] == 0 and audio["content"]["length"] == 640  # 20 ms of L16 16k
    nxt = await s.media["audio"].wait(14)
    assert nxt["content"]["timestamp"] - audio["content"]["timestamp"] == 20
    await close_all(s)


async def test_generated_transcript(rsim: SimServer) -> None:
    c = rsim.client
    gen = {"speakers": 3, "rate_per_s": 1.0, "languages": ["en", "ja", "fr"], "count": 9}
    uuid, p = await start_meeting(c, transcript_generate=gen, speak_from="first_client")
    s = await join(p)
    msgs = [(await s.media["transcript"].wait(17, timeout=10))["content"] for _ in range(9)]
    assert {m["user_name"] for m in msgs} == {"Speaker 1", "Speaker 2", "Speaker 3"}
    by_speaker = {m["user_name"]: m["language"] for m in msgs}
    assert by_speaker == {"Speaker 1": 9, "Speaker 2": 20, "Speaker 3": 13}
    # An absence, so a bounded wait: many times the generator's pace (3 segments per 20 ms real) passes,
    # and no tenth segment comes.
    await asyncio.sleep(0.2)
    assert len(s.media["transcript"].of_type(17)) == 0  # count caps it
    with pytest.raises(Exception, match="400"):
        await aw(c.create_meeting, "x@example.com", transcript_generate={"speakers": 0})
    await close_all(s)


# ---- keep-alives --------------------------------------------------------------------------------


async def test_keepalives_carry_sequence_and_timestamp_on_every_socket(ksim: SimServer) -> None:
    c = ksim.client
    uuid, p = await start_meeting(c)
    s = await join(p, media=("transcript",))
    # One keep-alive more than the misses allowed, on each socket: the answers are being counted.
    wanted = ksim.config.rtms_keepalive_misses + 1
    await eventually_async(
        lambda: all(len(sock.keepalives) >= wanted for sock in (s.signaling, s.media["transcript"])),
        what=f"{wanted} keep-alives on each socket",
    )
    for sock in (s.signaling, s.media["transcript"]):
        assert len(sock.keepalives) >= 2
        seqs = [k["sequence"] for k in sock.keepalives]
        assert seqs == list(range(1, len(seqs) + 1))
        assert all(isinstance(k["timestamp"], int) for k in sock.keepalives)
    assert await aw(c.ledger, kind="rtms.keepalive_timeout") == []
    await close_all(s)


async def test_three_unanswered_keepalives_interrupt_then_stop_19(ksim: SimServer) -> None:
    c = ksim.client
    uuid, p = await start_meeting(c)
    s = await join(p, media=("transcript",), answer_keepalive=False)
    await s.signaling.wait_closed(timeout=5)
    assert len(s.signaling.keepalives) == 3
    timeout = (await aw(c.wait_for, "rtms.keepalive_timeout"))[0]
    assert timeout["unanswered"] == [1, 2, 3]
    await aw(c.wait_for, "event.emitted", event="meeting.rtms_interrupted", meeting_uuid=uuid)
    stopped = await aw(c.wait_for, "event.emitted", event="meeting.rtms_stopped", meeting_uuid=uuid)
    assert stopped[0]["payload"]["stop_reason"] == 19


# ---- one client per stream, and the ledger's accounting -----------------------------------------


async def test_ledger_counts_signaling_connections_and_segments(rsim: SimServer) -> None:
    c = rsim.client
    script = [{"speaker": "A", "text": f"s{i}"} for i in range(60)]
    uuid, p = await start_meeting(c, transcript=script, segment_interval_ms=1500, speak_from="first_client")
    received: list[str] = []
    for _ in range(3):
        s = await join(p)
        transcript = s.media["transcript"]
        await eventually_async(partial(transcript.of_type, 17), what="the client hearing the meeting")
        tries = [await connect(p["server_urls"]) for _ in range(2)]
        for t in tries:
            await t.send(hs(p))
            assert (await t.wait(2))["status_code"] == 8
        spoken = await aw(c.ledger, kind="rtms.segment_sent", meeting_uuid=uuid)
        unheard = sum(not e["ready_client"] for e in spoken)
        await transcript.close()
        await s.signaling.close()
        received += [m["content"]["data"] for m in transcript.of_type(17)]
        # A segment spoken to no ready client: the server has closed (and recorded) this client too.
        await aw(
            c.wait_for,
            "rtms.segment_sent",
            count=unheard + 1,
            meeting_uuid=uuid,
            where=lambda e: not e["ready_client"],
        )
    await aw(c.end_meeting, uuid)
    conns = await aw(c.ledger, kind="rtms.connection", meeting_uuid=uuid)
    sig = [e for e in conns if e["socket"] == "signaling"]
    assert [e["action"] for e in sig] == ["opened", "refused", "refused", "closed"] * 3
    assert max(e["signaling_open"] for e in conns) == 1
    segs = await aw(c.ledger, kind="rtms.segment_sent", meeting_uuid=uuid)
    assert [e["text"] for e in segs if e["delivered"]] == received  # each exactly once
    assert all(e["ready_client"] for e in segs if e["delivered"])
    assert any(not e["ready_client"] for e in segs)  # spoken between clients: lost
    assert [e["index"] for e in segs] == list(range(len(segs)))


# ---- pause / resume, events ---------------------------------------------------------------------


async def test_pause_and_resume_from_rest(rsim: SimServer) -> None:
    c = rsim.client
    script = [{"speaker": "A", "text": f"p{i}"} for i in range(200)]
    uuid, p = await start_meeting(c, transcript=script, segment_interval_ms=2000, speak_from="first_client")
    s = await join(p)
    token = s2s_token(rsim.base_url)
    meeting_id = p["meeting_id"]

    def patch(action: str) -> int:
        r = requests.patch(
            f"{rsim.base_url}/v2/live_meetings/{meeting_id}/rtms_app/status",
            json={"action": action, "settings": {"client_id": RTMS_APP.client_id}},
            headers=bearer(token),
            timeout=5,
        )
        return r.status_code

    assert await aw(patch, "pause") == 204
    assert (await s.signaling.wait(8, state=5))["reason"] == 0
    await s.signaling.wait(9, state=3)
    await aw(c.wait_for, "rtms.segment_sent", meeting_uuid=uuid, where=lambda e: e["paused"])
    assert await aw(patch, "resume") == 204
    await s.signaling.wait(8, state=6)
    await s.signaling.wait(9, state=4)
    await s.media["transcript"].wait(17)
    segs = await aw(c.ledger, kind="rtms.segment_sent", meeting_uuid=uuid)
    paused = [e for e in segs if e["paused"]]
    assert paused and not any(e["delivered"] for e in paused) and all(e["ready_client"] for e in paused)
    await close_all(s)


async def test_event_subscription_join_leave_and_active_speaker(rsim: SimServer) -> None:
    c = rsim.client
    script = [{"speaker": n, "text": f"e{i}"} for i, n in enumerate(["Ana", "Ana", "Ben", "Ana"])]
    uuid, p = await start_meeting(c, transcript=script, segment_interval_ms=2000, speak_from="first_client")
    s = await join(p, subscribe=[2, 3, 4])
    join_ev = (await s.signaling.wait(6, timeout=5))["event"]
    while join_ev["event_type"] != 3:
        join_ev = (await s.signaling.wait(6))["event"]
    names = {x["user_name"] for x in join_ev["participants"]}
    assert {"Ana", "Ben", "Host"} <= names
    speakers: list[str] = []
    while len(speakers) < 3:
        ev = (await s.signaling.wait(6))["event"]
        if ev["event_type"] == 2:
            speakers.append(ev["user_name"])
    assert speakers == ["Ana", "Ben", "Ana"]  # on change only
    await aw(c.stream_fault, p["rtms_stream_id"], "participant_leave", user_name="Ben")
    leave = (await s.signaling.wait(6))["event"]
    assert leave["event_type"] == 4 and "user_name" not in leave["participants"][0]
    await close_all(s)


# ---- faults -------------------------------------------------------------------------------------


async def test_kill_signaling_interrupts_and_a_reconnect_restores(rsim: SimServer) -> None:
    c = rsim.client
    uuid, p = await start_meeting(c)
    s = await join(p)
    await aw(c.kill_signaling, p["rtms_stream_id"])
    await s.signaling.wait_closed()
    await s.media["transcript"].wait_closed()  # media goes with signaling
    await aw(c.wait_for, "event.emitted", event="meeting.rtms_interrupted", meeting_uuid=uuid)
    s2 = await join(p)  # within the window: allowed, restores the stream
    restored = await aw(c.wait_for, "rtms.restored", where=lambda e: e["window"] == "signaling")
    assert restored
    # An absence, so a bounded wait: past the signaling window (60 s sim: 1.2 s real), nothing stops.
    await asyncio.sleep(1.5)
    view = await aw(c.stream_runtime, p["rtms_stream_id"])
    assert view["ready"] and view["state"] == "started"
    assert await aw(c.ledger, kind="event.emitted", event="meeting.rtms_stopped") == []
    await close_all(s2)


async def test_kill_media_reports_and_waits_for_that_media(rsim: SimServer) -> None:
    c = rsim.client
    uuid, p = await start_meeting(c)
    s = await join(p, media=("transcript", "audio"))
    await aw(c.kill_media, p["rtms_stream_id"], "transcript")
    await s.media["transcript"].wait_closed()
    assert (await s.signaling.wait(6, timeout=5))["event"]["event_type"] in (1, 7)
    state = await s.signaling.wait(8, state=2)
    assert state["reason"] == 14
    assert not s.media["audio"].closed.is_set()
    m2 = await connect(s.urls["transcript"])
    await m2.send(hs(p, 3, media_type=8))
    assert (await m2.wait(4))["status_code"] == 0
    await s.signaling.wait(8, state=1)
    await aw(c.wait_for, "rtms.restored", where=lambda e: e["window"] == "media")
    # Kill it again and do not come back: media window (0.6 s) -> rtms_stopped 19.
    await aw(c.kill_media, p["rtms_stream_id"], "transcript")
    stopped = await aw(c.wait_for, "event.emitted", event="meeting.rtms_stopped", meeting_uuid=uuid)
    assert stopped[0]["payload"]["stop_reason"] == 19
    term = await s.signaling.wait(8, state=4)
    assert term["reason"] == 19


async def test_failover_reannounces_with_new_urls_and_refuses_the_old(rsim: SimServer) -> None:
    c = rsim.client
    uuid, p = await start_meeting(c)
    s = await join(p)
    result = await aw(c.failover, p["rtms_stream_id"])
    await s.signaling.wait_closed()
    p2 = await aw(started_payload, c, uuid, 2)
    first = (await aw(c.ledger, kind="event.emitted", event="meeting.rtms_started"))[0]
    second = (await aw(c.ledger, kind="event.emitted", event="meeting.rtms_started"))[1]
    assert p2["rtms_stream_id"] == p["rtms_stream_id"] and p2["meeting_uuid"] == uuid
    assert p2["server_urls"] != p["server_urls"] == first["payload"]["server_urls"]
    assert second["event_ts"] > first["event_ts"]
    assert result["generation"] == result["old_generation"] + 1
    with pytest.raises(websockets.InvalidStatus) as exc:
        await connect(p["server_urls"])
    assert exc.value.response.status_code == 404
    assert await aw(c.ledger, kind="event.emitted", event="meeting.rtms_interrupted") == []
    s2 = await join(p2)
    await aw(c.wait_for, "rtms.restored", where=lambda e: e["window"] == "failover")
    await close_all(s2)
    # Nobody comes back after a second failover: rtms_stopped 19.
    await aw(c.failover, p["rtms_stream_id"])
    stopped = await aw(c.wait_for, "event.emitted", event="meeting.rtms_stopped", meeting_uuid=uuid)
    assert stopped[0]["payload"]["stop_reason"] == 19


async def test_host_stop_fault(rsim: SimServer) -> None:
    c = rsim.client
    uuid, p = await start_meeting(c)
    s = await join(p)
    await aw(c.stop_stream, p["rtms_stream_id"])
    session = await s.signaling.wait(9, state=5)
    assert session["reason"] == 1 and session["stop_reason"] == 1
    assert (await s.signaling.wait(8, state=4))["reason"] == 1
    await s.signaling.wait_closed()
    stopped = await aw(c.wait_for, "event.emitted", event="meeting.rtms_stopped", meeting_uuid=uuid)
    assert stopped[0]["payload"]["stop_reason"] == 1


async def test_meeting_end_order(rsim: SimServer) -> None:
    c = rsim.client
    uuid, p = await start_meeting(c)
    s = await join(p)
    await aw(c.end_meeting, uuid)
    assert (await s.signaling.wait(9, state=5))["reason"] == 6
    assert (await s.signaling.wait(8, state=4))["reason"] == 6
    await s.signaling.wait_closed()
    await aw(c.wait_for, "event.emitted", event="meeting.ended", meeting_uuid=uuid)
    entries = await aw(c.ledger, meeting_uuid=uuid)
    kinds = [
        e.get("event") or f"{e['kind']}:{e.get('message', '')}{e.get('action', '')}"
        for e in entries
        if e["kind"] in ("rtms.state", "event.emitted") and e.get("state", 4) in (4, 5)
    ]
    assert kinds[-4:] == ["rtms.state:session", "rtms.state:stream", "meeting.rtms_stopped", "meeting.ended"]
    stopped = [e for e in entries if e.get("event") == "meeting.rtms_stopped"][0]
    assert stopped["payload"]["stop_reason"] == 6


async def test_never_connected_stream_is_stopped_11(rsim: SimServer) -> None:
    c = rsim.client
    uuid, p = await start_meeting(c)
    stopped = await aw(c.wait_for, "event.emitted", event="meeting.rtms_stopped", meeting_uuid=uuid)
    assert stopped[0]["payload"]["stop_reason"] == 11
    with pytest.raises(websockets.InvalidStatus):
        await connect(p["server_urls"])


async def test_stream_close_request(rsim: SimServer) -> None:
    c = rsim.client
    uuid, p = await start_meeting(c)
    s = await join(p)
    await s.signaling.send({"msg_type": 19, "rtms_stream_id": p["rtms_stream_id"]})
    assert (await s.signaling.wait(20))["state"] == 1
    await s.signaling.send({"msg_type": 21, "rtms_stream_id": p["rtms_stream_id"]})
    assert (await s.signaling.wait(22))["status_code"] == 0
    assert (await s.signaling.wait(8, state=4))["reason"] == 20
    stopped = await aw(c.wait_for, "event.emitted", event="meeting.rtms_stopped", meeting_uuid=uuid)
    assert stopped[0]["payload"]["stop_reason"] == 20


async def test_keepalive_silence_keeps_the_old_connection_counted(ksim: SimServer) -> None:
    c = ksim.client
    uuid, p = await start_meeting(c)
    s = await join(p)
    await aw(c.keepalive_silence, p["rtms_stream_id"], duration_s=50)  # 1 s real
    n = len(s.signaling.keepalives)
    # An absence, so a bounded wait: three keep-alive intervals (0.2 s real) inside the silence.
    await asyncio.sleep(0.6)
    assert len(s.signaling.keepalives) == n  # nothing sent
    again = await connect(p["server_urls"])
    await again.send(hs(p))
    assert (await again.wait(2))["status_code"] == 8  # the silent socket still holds the stream
    await eventually_async(lambda: len(s.signaling.keepalives) > n, what="keep-alives after the silence")
    assert not s.signaling.closed.is_set()
    await close_all(s)


async def test_fault_errors(rsim: SimServer) -> None:
    c = rsim.client
    with pytest.raises(Exception, match="404"):
        await aw(c.stream_fault, "0" * 32, "failover")
    uuid, p = await start_meeting(c)
    with pytest.raises(Exception, match="409"):
        await aw(c.kill_signaling, p["rtms_stream_id"])
    with pytest.raises(Exception, match="400"):
        await aw(c.stream_fault, p["rtms_stream_id"], "explode")


# ---- TLS ----------------------------------------------------------------------------------------


async def test_wss_with_a_verified_test_ca(make_sim: Callable[..., SimServer], tmp_path: Any) -> None:
    server = make_sim(
        time_scale=SCALE, rtms_keepalive_interval_s=SLOW_KEEPALIVE, tls_dir=str(tmp_path / "tls")
    )
    c = server.client
    info = await aw(c.tls)
    assert info["tls_port"] and info["ca_file"].endswith("ca.pem")
    uuid, p = await start_meeting(
        c, transcript=[{"speaker": "A", "text": "secure"}], speak_from="first_client"
    )
    assert p["server_urls"].startswith(f"wss://localhost:{info['tls_port']}/rtms-sjc1/")
    # Verification on, with the system CAs only: refused.
    with pytest.raises(ssl.SSLCertVerificationError):
        await websockets.connect(p["server_urls"], ssl=ssl.create_default_context(), open_timeout=5)
    s = await join(p, ca_file=info["ca_file"])
    assert all(u.startswith("wss://localhost:") for u in s.urls.values())
    assert (await s.media["transcript"].wait(17))["content"]["data"] == "secure"
    conns = await aw(c.ledger, kind="rtms.connection", meeting_uuid=uuid)
    assert conns and all(e["tls"] for e in conns)
    await close_all(s)


def test_cli_serves_wss_with_a_generated_ca(tmp_path: Any) -> None:
    tls_dir = tmp_path / "tls"
    with SimProcess(["--tls-dir", str(tls_dir), "--time-scale", "0.01"]) as proc:
        info = proc.client.tls()
        assert info["ca_file"] == str(tls_dir / "ca.pem") and info["tls_port"] > 0
        ctx = ssl.create_default_context(cafile=info["ca_file"])
        with socket.create_connection(("localhost", info["tls_port"]), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
    assert sorted(p.name for p in tls_dir.iterdir()) == ["ca.pem", "server-key.pem", "server.pem"]
