"""The RTMS media client against a scripted server on 127.0.0.1 (zoom-protocol.md §2, §3; §2.6 table).

No database. Every wait for something to happen is a poll with a deadline (tests/eventually.py); the
only fixed waits are windows in which something must not happen. No test asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from rtms.zoom.credentials import RtmsAppCredentials
from rtms.zoom.media import MediaClientConfig, RtmsSession, WebSocketTransport
from rtms.zoom.protocol import EventType, MediaType, StopReason
from rtms.zoom.stop_policy import StopPolicy
from rtms.zoom.transport import (
    OutcomeKind,
    RtmsConnection,
    RtmsTransport,
    SessionOutcome,
    StatusKind,
    StreamTarget,
    split_server_urls,
)
from tests.eventually import eventually_async
from tests.unit.rtms.zoom.media_server import (
    RecordingSink,
    ScriptedRtmsServer,
    expected_signature,
    make_tls_files,
)

CREDS = RtmsAppCredentials("rtms-client-id", "rtms-client-secret", "webhook-token")
MEETING_UUID = "a/b+c=="
STREAM_ID = "609340fb2a7946909659956c8aa9250c"
CONFIG = MediaClientConfig(
    connect_timeout_s=3.0,
    keepalive_timeout_s=30.0,
    backoff_initial_s=0.05,
    backoff_cap_s=0.2,
    reconnect_window_s=20.0,
    media_grace_s=0.1,
)
BOTH = MediaType.TRANSCRIPT | MediaType.AUDIO


def target_for(
    server: ScriptedRtmsServer, media: MediaType = BOTH, generation: int = 1, **kw: Any
) -> StreamTarget:
    return StreamTarget(MEETING_UUID, STREAM_ID, (server.signaling_url,), generation, media, **kw)


@dataclass
class Running:
    session: RtmsSession
    sink: RecordingSink
    stop: asyncio.Event
    task: asyncio.Task[SessionOutcome]

    async def outcome(self, timeout: float = 10.0) -> SessionOutcome:
        return await asyncio.wait_for(asyncio.shield(self.task), timeout)

    def ready_count(self) -> int:
        return sum(1 for s in self.sink.states if s.kind is StatusKind.READY and not s.detail)


@asynccontextmanager
async def running(
    target: StreamTarget, creds: RtmsAppCredentials = CREDS, config: MediaClientConfig = CONFIG
) -> AsyncIterator[Running]:
    transport: RtmsTransport = WebSocketTransport(creds, config)
    sink = RecordingSink()
    connection: RtmsConnection = transport.open(target, sink)
    assert isinstance(connection, RtmsSession)
    stop = asyncio.Event()
    task = asyncio.create_task(connection.run(stop))
    try:
        yield Running(connection, sink, stop, task)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def ready(run: Running, count: int = 1) -> None:
    await eventually_async(lambda: run.ready_count() >= count, what=f"{count} ready")


def transcript(n: int) -> dict[str, Any]:
    content = {"user_id": 100 + n, "user_name": f"Speaker {n}", "data": f"line {n}"}
    content |= {"start_time": 1000 * n, "end_time": 1000 * n + 900, "timestamp": 1000 * n, "language": 9}
    return {"msg_type": 17, "content": content}


def audio(n: int) -> dict[str, Any]:
    data = base64.b64encode(bytes([n]) * 640).decode()
    return {"msg_type": 14, "content": {"user_id": 0, "data": data, "length": 640, "timestamp": 20 * n}}


# ---- handshakes ----------------------------------------------------------------------------------


async def test_handshakes_carry_the_hmac_signature_when_connecting() -> None:
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        async with running(target_for(server)) as run:
            await ready(run)
            want = expected_signature(CREDS.client_id, CREDS.client_secret, MEETING_UUID, STREAM_ID)
            (signaling,) = server.latest("signaling").of_type(1)
            assert signaling["signature"] == want
            assert (signaling["meeting_uuid"], signaling["rtms_stream_id"]) == (MEETING_UUID, STREAM_ID)
            (text,) = server.latest("transcript").of_type(3)
            (sound,) = server.latest("audio").of_type(3)
            assert text["signature"] == sound["signature"] == want
            assert text["media_type"] == 8 and text["media_params"] == {"transcript": {"content_type": 5}}
            assert sound["media_type"] == 1
            assert sound["media_params"] == {
                "audio": {
                    "content_type": 2,
                    "sample_rate": 1,
                    "channel": 1,
                    "codec": 1,
                    "data_opt": 1,
                    "send_rate": 20,
                }
            }


async def test_ready_ack_follows_every_media_handshake_when_audio_is_enabled() -> None:
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        async with running(target_for(server)) as run:
            await ready(run)
            await eventually_async(lambda: server.count("signaling", 5) == 1, what="subscription")
            ack = server.log.index(("signaling", 7))
            assert ack > server.log.index(("transcript", 3))
            assert ack > server.log.index(("audio", 3))
            assert server.log.index(("signaling", 5)) > ack
            (subscription,) = server.latest("signaling").of_type(5)
            assert subscription["events"] == [
                {"event_type": 2, "subscribe": True},
                {"event_type": 3, "subscribe": True},
                {"event_type": 4, "subscribe": True},
            ]
            assert server.latest("signaling").of_type(7) == [{"msg_type": 7, "rtms_stream_id": STREAM_ID}]


async def test_only_a_transcript_socket_opens_when_audio_is_not_requested() -> None:
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        async with running(target_for(server, MediaType.UNDEFINED)) as run:
            await ready(run)
            assert [c.kind for c in server.conns] == ["signaling", "transcript"]


async def test_keep_alives_are_answered_on_each_socket_when_the_server_asks() -> None:
    observed: list[tuple[str, float]] = []
    config = replace(CONFIG, on_keepalive=lambda kind, age_s: observed.append((kind, age_s)))
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        async with running(target_for(server), config=config) as run:
            await ready(run)
            for seq, kind in enumerate(("signaling", "transcript", "audio"), start=41):
                await server.send(kind, {"msg_type": 12, "sequence": seq, "timestamp": 1727384349000 + seq})
            for seq, kind in enumerate(("signaling", "transcript", "audio"), start=41):
                conn = server.latest(kind)
                answers = await eventually_async(
                    lambda c=conn: c.of_type(13),  # type: ignore[misc]
                    what=f"{kind} keep-alive",
                )
                assert answers == [{"msg_type": 13, "sequence": seq, "timestamp": 1727384349000 + seq}]
    # Each answer is reported with its age: from Zoom's timestamp (here long past) to our answer.
    assert sorted(kind for kind, _ in observed) == ["audio", "signaling", "transcript"]
    assert all(age_s > 3600 for _, age_s in observed)


# ---- media and events ----------------------------------------------------------------------------


async def test_transcript_and_audio_reach_the_sink_in_order_when_frames_are_text_or_binary() -> None:
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        async with running(target_for(server)) as run:
            await ready(run)
            for n in range(6):
                await server.send("transcript", transcript(n), binary=n % 2 == 1)
                await server.send("audio", audio(n), binary=n % 2 == 0)
            await eventually_async(lambda: len(run.sink.transcripts) == 6 and len(run.sink.audio) == 6)
            assert [t.text for t in run.sink.transcripts] == [f"line {n}" for n in range(6)]
            assert [t.user_id for t in run.sink.transcripts] == [100 + n for n in range(6)]
            assert [a.timestamp for a in run.sink.audio] == [20 * n for n in range(6)]
            assert run.sink.audio[3].data == bytes([3]) * 640


async def test_events_and_pause_reach_the_sink_when_sent_on_signaling() -> None:
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        async with running(target_for(server)) as run:
            await ready(run)
            await server.send(
                "signaling", {"msg_type": 6, "event": {"event_type": 2, "user_id": 7, "user_name": "A"}}
            )
            await server.send("signaling", {"msg_type": 8, "state": 5, "timestamp": 1})
            await server.send("signaling", {"msg_type": 9, "state": 4, "rtms_session_id": "sess-1"})
            await eventually_async(lambda: any(s.kind is StatusKind.RESUMED for s in run.sink.states))
            kinds = [e.event_type for e in run.sink.events]
            assert kinds == [EventType.FIRST_PACKET_TIMESTAMP, EventType.ACTIVE_SPEAKER_CHANGE]
            states = [s.kind for s in run.sink.states]
            assert states.index(StatusKind.PAUSED) < states.index(StatusKind.RESUMED)


async def test_a_malformed_frame_is_skipped_when_later_frames_are_good() -> None:
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        async with running(target_for(server, MediaType.UNDEFINED)) as run:
            await ready(run)
            await server.latest("transcript").ws.send("{not json")
            await server.latest("transcript").ws.send(b"\xff\xfe garbage")
            await server.send("transcript", {"msg_type": 17, "content": {"data": 5}})
            await server.send("transcript", transcript(1))
            await eventually_async(lambda: len(run.sink.transcripts) == 1)
            assert len(server.of("transcript")) == 1


async def test_unknown_and_early_messages_are_tolerated_when_the_server_sends_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    early = ({"msg_type": 12, "sequence": 3, "timestamp": 77}, {"msg_type": 99, "surprise": True})
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret, preamble=early) as server:
        async with running(target_for(server, MediaType.UNDEFINED)) as run:
            await ready(run)
            answered = await eventually_async(lambda: server.latest("signaling").of_type(13))
            assert answered == [{"msg_type": 13, "sequence": 3, "timestamp": 77}]
            await server.send("signaling", {"msg_type": 99, "anything": [1, 2]})
            await server.send("signaling", {"msg_type": 22, "status_code": 0, "reason": "OK"})
            await server.send("signaling", {"msg_type": 6, "event": {"event_type": 55}})
            await server.send("transcript", {"msg_type": 18, "content": {"data": "chat"}})
            await server.send("transcript", transcript(1))
            await eventually_async(lambda: len(run.sink.transcripts) == 1)
            await eventually_async(lambda: [e.event_type for e in run.sink.events][-1:] == [55])
            assert len(server.of("signaling")) == 1
    assert not [r for r in caplog.records if r.name == "rtms.zoom.media" and r.levelname == "ERROR"]


# ---- refusals ------------------------------------------------------------------------------------


async def test_bad_signature_ends_with_its_status_and_no_retry_when_the_secret_is_wrong() -> None:
    wrong = RtmsAppCredentials(CREDS.client_id, "not-the-secret", "webhook-token")
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        async with running(target_for(server), creds=wrong) as run:
            outcome = await run.outcome()
            assert outcome.kind is OutcomeKind.REFUSED and outcome.status_code == 3
            assert [c.kind for c in server.conns] == ["signaling"]
            assert run.sink.states[-1].kind is StatusKind.FAILED


async def test_duplicate_status_ends_without_fighting_when_another_holder_exists() -> None:
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret, signaling_status=8) as server:
        async with running(target_for(server)) as run:
            outcome = await run.outcome()
            assert outcome.kind is OutcomeKind.DUPLICATE and outcome.status_code == 8
            assert [c.kind for c in server.conns] == ["signaling"]


async def test_refused_media_handshake_ends_with_its_status_when_audio_is_not_supported() -> None:
    server_kw: dict[str, Any] = {"media_status": {"audio": [9]}}
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret, **server_kw) as server:
        async with running(target_for(server)) as run:
            outcome = await run.outcome()
            assert (outcome.kind, outcome.status_code, outcome.error) == (OutcomeKind.REFUSED, 9, "audio")
            assert server.count("signaling", 7) == 0  # never ready: no CLIENT_READY_ACK
            await eventually_async(lambda: all(c.closed.is_set() for c in server.conns))


# ---- stop reasons (§2.4.10 via stop_policy) ------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "kind", "policy"),
    [
        (StopReason.MEETING_ENDED, OutcomeKind.STOPPED, StopPolicy.ENDED),
        (StopReason.HOST_TRIGGERED, OutcomeKind.STOPPED, StopPolicy.CONSENT),
        (StopReason.AUTHENTICATION_FAILURE, OutcomeKind.STOPPED, StopPolicy.ALERT),
        (StopReason.SIGNAL_CONNECTION_INTERRUPTED, OutcomeKind.RESTART_REQUESTED, StopPolicy.RESTART),
        (StopReason.KEEP_ALIVE_TIMEOUT, OutcomeKind.RESTART_REQUESTED, StopPolicy.RESTART),
    ],
)
async def test_terminated_stream_ends_per_stop_policy_when_zoom_stops_it(
    reason: StopReason, kind: OutcomeKind, policy: StopPolicy
) -> None:
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        async with running(target_for(server)) as run:
            await ready(run)
            await server.send(
                "signaling", {"msg_type": 9, "state": 5, "reason": int(reason), "stop_reason": int(reason)}
            )
            await server.send("signaling", {"msg_type": 8, "state": 4, "reason": int(reason)})
            outcome = await run.outcome()
            assert (outcome.kind, outcome.stop_reason, outcome.policy) == (kind, reason, policy)
            await eventually_async(lambda: all(c.closed.is_set() for c in server.conns))
            assert {c.close_code for c in server.conns} == {1000}
            assert len(server.of("signaling")) == 1
            assert run.sink.states[-1].kind is StatusKind.STOPPED and run.sink.states[-1].reason == reason


async def test_terminating_then_close_stops_with_that_reason_when_no_terminated_follows() -> None:
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        async with running(target_for(server)) as run:
            await ready(run)
            await server.send("signaling", {"msg_type": 8, "state": 3, "reason": 6})
            await server.latest("signaling").ws.close()
            outcome = await run.outcome()
            assert (outcome.kind, outcome.stop_reason) == (OutcomeKind.STOPPED, StopReason.MEETING_ENDED)


# ---- failover table (§2.6) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "signal",
    [
        {"msg_type": 6, "event": {"event_type": 7, "timestamp": 1}},
        {"msg_type": 8, "state": 2, "reason": 14, "timestamp": 1},
    ],
    ids=["event_7", "state_2_reason_14"],
)
async def test_media_interruption_reconnects_only_the_media_socket_when_zoom_reports_it(
    signal: dict[str, Any],
) -> None:
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        async with running(target_for(server, MediaType.UNDEFINED)) as run:
            await ready(run)
            first = server.latest("transcript")
            await server.send("signaling", signal)
            await eventually_async(lambda: len(server.of("transcript")) == 2, what="media reconnect")
            await eventually_async(lambda: server.latest("transcript").of_type(3), what="media handshake")
            await first.closed.wait()
            assert first.close_code == 1000
            assert len(server.of("signaling")) == 1 and not server.latest("signaling").closed.is_set()
            await eventually_async(lambda: server.count("signaling", 7) == 1, what="first ready ack")
            await server_quiet()
            assert server.count("signaling", 1) == 1 and server.count("signaling", 7) == 1
            await server.send("transcript", transcript(5))
            await eventually_async(lambda: [t.text for t in run.sink.transcripts] == ["line 5"])


async def test_media_interruption_naming_a_type_reconnects_only_that_socket_when_audio_is_on() -> None:
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        async with running(target_for(server)) as run:
            await ready(run)
            await server.send("signaling", {"msg_type": 6, "event": {"event_type": 7, "media_type": 1}})
            await eventually_async(lambda: len(server.of("audio")) == 2 and server.latest("audio").of_type(3))
            assert len(server.of("transcript")) == 1 and not server.latest("transcript").closed.is_set()
            assert len(server.of("signaling")) == 1


EVENT_7 = {"msg_type": 6, "event": {"event_type": 7, "timestamp": 1}}
STATE_2_14 = {"msg_type": 8, "state": 2, "reason": 14, "timestamp": 1}


async def test_both_media_signals_for_one_loss_reconnect_once_when_sent_together() -> None:
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        async with running(target_for(server, MediaType.UNDEFINED)) as run:
            await ready(run)
            await server.send("signaling", EVENT_7)
            await server.send("signaling", STATE_2_14)
            await eventually_async(
                lambda: len(server.of("transcript")) == 2 and server.latest("transcript").of_type(3)
            )
            await server_quiet()
            assert len(server.of("transcript")) == 2 and len(server.of("signaling")) == 1


async def test_media_signal_after_a_drop_reconnects_only_the_dropped_socket_when_audio_is_on() -> None:
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        async with running(target_for(server)) as run:
            await ready(run)
            server.drop("audio")
            await eventually_async(lambda: any(s.detail.startswith("media_audio") for s in run.sink.states))
            await server.send("signaling", EVENT_7)
            await server.send("signaling", STATE_2_14)
            await eventually_async(lambda: len(server.of("audio")) == 2 and server.latest("audio").of_type(3))
            # Past the grace: nothing else may restart. The grace elapsing is what is under test (a wrong
            # restart would come only after it), so this waits out time rather than a condition.
            await asyncio.sleep(3 * CONFIG.media_grace_s)
            assert len(server.of("transcript")) == 1 and not server.latest("transcript").closed.is_set()
            assert len(server.of("signaling")) == 1 and len(server.of("audio")) == 2


async def test_media_signal_before_the_drop_is_seen_reconnects_only_the_dropped_socket() -> None:
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        async with running(target_for(server)) as run:
            await ready(run)
            await server.send("signaling", EVENT_7)
            await server.send("signaling", STATE_2_14)
            server.drop("audio")
            await eventually_async(lambda: len(server.of("audio")) == 2 and server.latest("audio").of_type(3))
            # Past the grace: nothing else may restart. The grace elapsing is what is under test (a wrong
            # restart would come only after it), so this waits out time rather than a condition.
            await asyncio.sleep(3 * CONFIG.media_grace_s)
            assert len(server.of("transcript")) == 1 and not server.latest("transcript").closed.is_set()
            assert len(server.of("signaling")) == 1 and len(server.of("audio")) == 2


async def test_ambiguous_media_signal_restarts_every_media_socket_when_none_went_down() -> None:
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        async with running(target_for(server)) as run:
            await ready(run)
            await server.send("signaling", EVENT_7)
            await eventually_async(lambda: len(server.of("transcript")) == 2 and len(server.of("audio")) == 2)
            await eventually_async(
                lambda: server.latest("audio").of_type(3) and server.latest("transcript").of_type(3)
            )
            assert len(server.of("signaling")) == 1
            await eventually_async(lambda: server.count("signaling", 7) == 1)
            await server_quiet()
            assert server.count("signaling", 7) == 1  # no second CLIENT_READY_ACK


async def test_dropped_media_socket_reconnects_alone_after_backoff_when_it_dies() -> None:
    async with ScriptedRtmsServer(
        CREDS.client_id, CREDS.client_secret, media_status={"transcript": [0, 16]}
    ) as server:
        async with running(target_for(server)) as run:
            await ready(run)
            server.drop("transcript")
            # The first re-handshake is refused as a duplicate (16), the next one succeeds.
            await eventually_async(
                lambda: len(server.of("transcript")) == 3 and server.latest("transcript").of_type(3)
            )
            assert len(server.of("signaling")) == 1 and len(server.of("audio")) == 1
            await server.send("transcript", transcript(2))
            await eventually_async(lambda: len(run.sink.transcripts) == 1)


async def test_signaling_drop_reconnects_both_after_backoff_when_closed_abnormally() -> None:
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        async with running(target_for(server)) as run:
            await ready(run)
            # The client reports ready right after sending its ack; let this side read the ack before the
            # drop, or the abort throws it away unread and the count below can never reach two.
            await eventually_async(lambda: server.count("signaling", 7) == 1, what="first ready ack")
            old = [server.latest(k) for k in ("transcript", "audio")]
            server.drop("signaling")
            await ready(run, 2)
            assert [len(server.of(k)) for k in ("signaling", "transcript", "audio")] == [2, 2, 2]
            await eventually_async(lambda: server.count("signaling", 7) == 2, what="second ready ack")
            for conn in old:
                await conn.closed.wait()
                assert conn.close_code == 1000
            kinds = [s.kind for s in run.sink.states]
            assert StatusKind.INTERRUPTED in kinds[kinds.index(StatusKind.READY) :]


async def test_interrupt_reconnects_both_sockets_when_the_webhook_says_so() -> None:
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        async with running(target_for(server, MediaType.UNDEFINED)) as run:
            await ready(run)
            run.session.interrupt()
            await ready(run, 2)
            assert [len(server.of(k)) for k in ("signaling", "transcript")] == [2, 2]
            await server.conns[0].closed.wait()
            assert server.conns[0].close_code == 1000


async def test_failover_moves_to_the_new_urls_and_closes_the_old_sockets_when_rtms_restarts() -> None:
    async with (
        ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as old,
        ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as new,
    ):
        async with running(target_for(old)) as run:
            await ready(run)
            run.session.failover(target_for(new, generation=2))
            await ready(run, 2)
            assert [c.kind for c in new.conns] == ["signaling", "transcript", "audio"]
            await eventually_async(lambda: new.count("signaling", 7) == 1, what="ready ack on the new server")
            for conn in old.conns:
                await conn.closed.wait()
                assert conn.close_code == 1000
            assert run.session.target.generation == 2
            run.session.failover(target_for(old, generation=2))  # a stale repeat is ignored
            await server_quiet()
            assert len(old.conns) == 3 and len(new.conns) == 3


async def server_quiet() -> None:
    # Give a wrongly scheduled reconnect a chance to show up; the assertions after it are on state.
    # A fixed wait on purpose: what follows asserts that something did NOT happen, and an absence has no
    # condition to poll for. Yielding in small steps lets every task on the loop run meanwhile.
    for _ in range(20):
        await asyncio.sleep(0.01)


async def test_keepalive_silence_re_handshakes_when_nothing_arrives() -> None:
    config = replace(CONFIG, keepalive_timeout_s=0.3)
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        async with running(target_for(server, MediaType.UNDEFINED), config=config) as run:
            await eventually_async(lambda: server.count("signaling", 1) >= 2, what="re-handshake")
            assert server.conns[0].kind == "signaling"
            await server.conns[0].closed.wait()
            assert server.conns[0].close_code == 1000
            assert run.ready_count() >= 1


async def test_unreachable_server_fails_after_the_reconnect_window_when_nothing_answers() -> None:
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        url = server.signaling_url
    config = replace(CONFIG, reconnect_window_s=0.5, connect_timeout_s=0.5)
    target = StreamTarget(MEETING_UUID, STREAM_ID, (url,), 1, MediaType.TRANSCRIPT)
    async with running(target, config=config) as run:
        outcome = await run.outcome()
        assert (outcome.kind, outcome.error) == (OutcomeKind.FAILED, "reconnect_window_exceeded")
        assert sum(1 for s in run.sink.states if s.kind is StatusKind.CONNECTING) >= 2


# ---- our own stop ---------------------------------------------------------------------------------


async def test_stop_closes_every_socket_with_1000_and_leaves_no_task_when_set() -> None:
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        async with running(target_for(server)) as run:
            await ready(run)
            run.stop.set()
            outcome = await run.outcome()
            assert outcome.kind is OutcomeKind.CLOSED
            for conn in server.conns:
                await conn.closed.wait()
            assert {c.close_code for c in server.conns} == {1000}
            assert server.count("signaling", 21) == 0  # never STREAM_CLOSE_REQ: the stream is not ours
            assert leftover_tasks() == []
            assert run.sink.states[-1].kind is StatusKind.CLOSED


async def test_close_returns_once_run_has_finished_when_called_while_connected() -> None:
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        async with running(target_for(server, MediaType.UNDEFINED)) as run:
            await ready(run)
            await asyncio.wait_for(run.session.close(), 10)
            assert run.task.done() and run.task.result().kind is OutcomeKind.CLOSED
            assert leftover_tasks() == []


async def test_cancelling_run_closes_the_sockets_when_the_gateway_is_torn_down() -> None:
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret) as server:
        sink = RecordingSink()
        session = WebSocketTransport(CREDS, CONFIG).open(target_for(server), sink)
        task = asyncio.create_task(session.run(asyncio.Event()))
        await eventually_async(lambda: any(s.kind is StatusKind.READY for s in sink.states))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for conn in server.conns:
            await asyncio.wait_for(conn.closed.wait(), 10)
        assert {c.close_code for c in server.conns} == {1000}
        assert leftover_tasks() == []


def leftover_tasks() -> list[str]:
    return [
        t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("rtms-media") and not t.done()
    ]


# ---- TLS -----------------------------------------------------------------------------------------


def _trusted_tls(tmp_path: Path) -> tuple[dict[str, Any], ssl.SSLContext]:
    """A wss:// server's keyword arguments and a client context that trusts its CA."""
    tls = make_tls_files(tmp_path, "good")
    server_kw: dict[str, Any] = {"ssl_context": tls.server_context(), "host_name": "localhost"}
    return server_kw, ssl.create_default_context(cafile=tls.ca_cert)


async def test_wss_connects_when_the_certificate_chains_to_the_configured_ca(tmp_path: Path) -> None:
    server_kw, client_context = _trusted_tls(tmp_path)
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret, **server_kw) as server:
        async with running(target_for(server, ssl_context=client_context)) as run:
            await ready(run)
            assert [c.kind for c in server.conns] == ["signaling", "transcript", "audio"]
            assert server.signaling_url.startswith("wss://localhost:")


async def test_wss_fails_without_falling_back_when_the_ca_is_unknown(tmp_path: Path) -> None:
    served = make_tls_files(tmp_path, "served")
    trusted = make_tls_files(tmp_path, "other")
    server_kw: dict[str, Any] = {"ssl_context": served.server_context(), "host_name": "localhost"}
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret, **server_kw) as server:
        client_context = ssl.create_default_context(cafile=trusted.ca_cert)
        async with running(target_for(server, ssl_context=client_context)) as run:
            outcome = await run.outcome()
            assert (outcome.kind, outcome.error) == (OutcomeKind.FAILED, "tls_verification_failed")
            assert server.conns == []  # no WebSocket (let alone a handshake) ever reached the server


async def test_wss_media_url_downgraded_to_ws_is_refused_when_signaling_is_wss(tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path, "good")
    server_kw: dict[str, Any] = {"ssl_context": tls.server_context(), "host_name": "localhost"}
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret, **server_kw) as server:
        server.ssl_context, port = None, server.port  # media URLs in the reply now say ws://
        signaling = f"wss://localhost:{port}/signal"
        client_context = ssl.create_default_context(cafile=tls.ca_cert)
        target = StreamTarget(MEETING_UUID, STREAM_ID, (signaling,), 1, MediaType.TRANSCRIPT, client_context)
        async with running(target) as run:
            outcome = await run.outcome()
            assert (outcome.kind, outcome.error) == (OutcomeKind.FAILED, "insecure_media_url")
            assert [c.kind for c in server.conns] == ["signaling"]


# ---- StreamTarget ----------------------------------------------------------------------------------


def test_stream_target_refuses_a_context_that_does_not_verify_when_given_one() -> None:
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    with pytest.raises(ValueError, match="verify"):
        StreamTarget(MEETING_UUID, STREAM_ID, ("wss://rtms.example.com",), ssl_context=unverified)
    no_hostname = ssl.create_default_context()
    no_hostname.check_hostname = False
    with pytest.raises(ValueError, match="verify"):
        StreamTarget(MEETING_UUID, STREAM_ID, ("wss://rtms.example.com",), ssl_context=no_hostname)


def test_stream_target_picks_the_websocket_url_and_always_asks_for_transcript_when_built() -> None:
    urls = split_server_urls("rtmp://x.example.com, wss://rtms-sjc1.zoom.us/s")
    target = StreamTarget(MEETING_UUID, STREAM_ID, urls, media=MediaType.AUDIO)
    assert target.server_urls == ("rtmp://x.example.com", "wss://rtms-sjc1.zoom.us/s")
    assert target.signaling_url == "wss://rtms-sjc1.zoom.us/s"
    assert target.media == BOTH
    with pytest.raises(ValueError):
        StreamTarget(MEETING_UUID, STREAM_ID, ("https://x.example.com",))
    with pytest.raises(ValueError):
        StreamTarget(MEETING_UUID, STREAM_ID, ("wss://x.example.com",), media=MediaType.VIDEO)
    assert "secret" not in repr(target) and "ssl_context" not in repr(target)


def test_failover_to_another_stream_is_refused_when_ids_differ() -> None:
    session = WebSocketTransport(CREDS, CONFIG).open(
        StreamTarget(MEETING_UUID, STREAM_ID, ("ws://127.0.0.1:9/signal",)), RecordingSink()
    )
    with pytest.raises(ValueError):
        session.failover(StreamTarget(MEETING_UUID, "other", ("ws://127.0.0.1:9/signal",), generation=2))


def test_without_a_ca_file_the_system_trust_store_is_loaded_once_and_always_verifies() -> None:
    from rtms.zoom.media import system_tls_context

    context = system_tls_context()
    assert context is system_tls_context()  # shared by every socket, not rebuilt per connection
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
