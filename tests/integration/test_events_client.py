"""The event-subscription client against zoomsim (in-process) and a scripted WebSocket server.

No database. Everything waits for conditions with deadlines; nothing asserts on timing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.server import ServerConnection, serve

from rtms.zoom.events import EventSubscription, SubscriptionConfig
from tests.eventually import eventually_async
from zoomsim.config import AccountConfig, AppCreds, SimConfig
from zoomsim.testing import SimServer

RTMS_APP = AppCreds("evRtmsClientId", "evRtmsClientSecret")
S2S_APP = AppCreds("evS2sClientId", "evS2sClientSecret")
ACCOUNT_ID = "acctEvents00000000001"
SUBSCRIPTION_ID = "subEvents-0001"


# ---- helpers ------------------------------------------------------------------------------------


async def in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """zoomsim's control client is synchronous; keep it off the loop the subscription runs on."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def s2s_token(base_url: str) -> str:
    basic = base64.b64encode(f"{S2S_APP.client_id}:{S2S_APP.client_secret}".encode()).decode()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        async with http.post(
            base_url + "/oauth/token",
            data={"grant_type": "account_credentials", "account_id": ACCOUNT_ID},
            headers={"Authorization": "Basic " + basic},
        ) as resp:
            assert resp.status == 200
            return str((await resp.json())["access_token"])


class Recorder:
    """Callbacks that record what the client did."""

    def __init__(
        self, base_url: str = "", bad_token_until_forced: bool = False, token: str | None = None
    ) -> None:
        self.base_url = base_url
        self.token = token
        self.bad_token_until_forced = bad_token_until_forced
        self.events: list[dict[str, object]] = []
        self.token_calls: list[bool] = []
        self.connected = 0
        self.disconnected: list[str] = []
        self.fail_on: set[str] = set()
        self.refused: list[str] = []

    async def get_token(self, force_refresh: bool) -> str:
        self.token_calls.append(force_refresh)
        if self.token is not None:
            return self.token
        if self.bad_token_until_forced and not force_refresh:
            return "not-a-valid-token"
        return await s2s_token(self.base_url)

    async def on_event(self, body: dict[str, object]) -> None:
        self.events.append(body)
        if body.get("event") in self.fail_on:
            raise RuntimeError("database is down")

    async def on_connected(self) -> None:
        self.connected += 1

    async def on_disconnected(self, reason: str) -> None:
        self.disconnected.append(reason)

    async def on_refused(self, reason: str) -> None:
        self.refused.append(reason)

    def subscription(self, url: str, **overrides: Any) -> EventSubscription:
        settings: dict[str, Any] = {
            "heartbeat_interval_s": 0.1,
            "connect_timeout_s": 2.0,
            "backoff_initial_s": 0.02,
            "backoff_cap_s": 0.2,
            **overrides,
        }
        return EventSubscription(
            SubscriptionConfig(url=url, subscription_id=SUBSCRIPTION_ID, **settings),
            get_token=self.get_token,
            on_event=self.on_event,
            on_connected=self.on_connected,
            on_disconnected=self.on_disconnected,
            on_refused=self.on_refused,
            rng=random.Random(42),
        )


@contextlib.asynccontextmanager
async def running(sub: EventSubscription) -> AsyncIterator[tuple[asyncio.Event, asyncio.Task[None]]]:
    stop = asyncio.Event()
    task = asyncio.create_task(sub.run(stop))
    try:
        yield stop, task
    finally:
        stop.set()
        if not task.done():
            await asyncio.wait_for(task, timeout=5)


def ws_url(sim: SimServer) -> str:
    return sim.base_url.replace("http://", "ws://", 1) + "/ws"


@pytest.fixture
def make_sim() -> Iterator[Callable[..., SimServer]]:
    servers: list[SimServer] = []

    def make(**overrides: Any) -> SimServer:
        config = SimConfig(
            port=0,
            time_scale=0.01,
            rtms_app=RTMS_APP,
            webhook_secret_token="evWebhookSecret",
            account=AccountConfig(ACCOUNT_ID, S2S_APP, SUBSCRIPTION_ID),
            ws_heartbeat_timeout_s=1e7,
        ).with_overrides(**overrides)
        server = SimServer(config).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


# ---- against zoomsim ----------------------------------------------------------------------------


async def test_delivers_event_bodies_in_order_when_connected(make_sim: Callable[..., SimServer]) -> None:
    sim = make_sim()
    rec = Recorder(sim.base_url)
    async with running(rec.subscription(ws_url(sim))):
        await eventually_async(lambda: rec.connected == 1)
        meetings = [
            await in_thread(sim.client.create_meeting, f"host{i}@example.com", rtms="none") for i in range(3)
        ]
        for m in meetings:
            await in_thread(sim.client.end_meeting, m["meeting_uuid"])
        await eventually_async(lambda: len(rec.events) == 6)
    delivered = await in_thread(sim.client.ledger, kind="ws.delivered")
    assert [(b["event"], b["event_ts"]) for b in rec.events] == [
        (d["event"], d["event_ts"]) for d in delivered
    ]
    emitted = {
        (e["event"], e["event_ts"], e["meeting_uuid"]): e["payload"]
        for e in await in_thread(sim.client.ledger, kind="event.emitted")
    }
    for body in rec.events:
        assert set(body) == {"event", "event_ts", "payload"}
        payload: Any = body["payload"]
        assert emitted[(body["event"], body["event_ts"], payload["object"]["uuid"])] == payload
    assert [b["event"] for b in rec.events].count("meeting.ended") == 3
    assert rec.token_calls == [False] and rec.disconnected == ["stopped"]


async def test_reconnects_when_zoomsim_kicks_it_and_refuses_with_503(
    make_sim: Callable[..., SimServer],
) -> None:
    sim = make_sim()
    rec = Recorder(sim.base_url)
    async with running(rec.subscription(ws_url(sim))):
        await eventually_async(lambda: rec.connected == 1)
        await in_thread(sim.client.ws_down, 150)  # 1.5 s real: longer than the backoff cap
        await eventually_async(lambda: rec.connected == 2)
        assert rec.disconnected[0] == "closed_1001"
        m = await in_thread(sim.client.create_meeting, "after@example.com", rtms="none")
        await eventually_async(lambda: any(b["event"] == "meeting.started" for b in rec.events))
    refused = await in_thread(sim.client.ledger, kind="ws.refused")
    assert refused and all(r["reason"] == "ws_down" for r in refused)
    started: Any = rec.events[0]["payload"]
    assert started["object"]["uuid"] == m["meeting_uuid"]
    assert len(await in_thread(sim.client.ledger, kind="ws.connected")) == 2


async def test_refreshes_the_token_when_zoomsim_expires_it(make_sim: Callable[..., SimServer]) -> None:
    sim = make_sim()
    rec = Recorder(sim.base_url)
    async with running(rec.subscription(ws_url(sim))):
        await eventually_async(lambda: rec.connected == 1)
        assert await in_thread(sim.client.expire_tokens) == 1
        await eventually_async(lambda: rec.connected == 2)
        assert rec.disconnected[0] == "closed_1008"
        assert rec.token_calls == [False, True]
        await in_thread(sim.client.create_meeting, "fresh@example.com", rtms="none")
        await eventually_async(lambda: len(rec.events) == 1)


async def test_forces_a_token_refresh_when_build_connection_fails(
    make_sim: Callable[..., SimServer],
) -> None:
    sim = make_sim()
    rec = Recorder(sim.base_url, bad_token_until_forced=True)
    async with running(rec.subscription(ws_url(sim))):
        await eventually_async(lambda: rec.connected == 1)
    assert rec.token_calls[:2] == [False, True]
    refused = await in_thread(sim.client.ledger, kind="ws.refused")
    assert [r["reason"] for r in refused] == ["invalid_token"]
    assert rec.disconnected == ["stopped"]  # the refused attempt never counted as a connection


async def test_heartbeats_keep_the_socket_past_zoomsims_heartbeat_timeout(
    make_sim: Callable[..., SimServer],
) -> None:
    sim = make_sim(ws_heartbeat_timeout_s=30)  # 0.3 s real
    timeout_real = 0.3
    rec = Recorder(sim.base_url)
    async with running(rec.subscription(ws_url(sim), heartbeat_interval_s=0.05)):
        await eventually_async(lambda: rec.connected == 1)
        # A fixed wait on purpose: nothing to poll for, the socket must outlive five heartbeat timeouts.
        await asyncio.sleep(5 * timeout_real)
        assert rec.connected == 1 and rec.disconnected == []
    closed = await in_thread(sim.client.ledger, kind="ws.closed")
    assert [c["reason"] for c in closed] == ["client_closed"]

    # The control: a client whose heartbeats are too rare is closed by zoomsim.
    slow = Recorder(sim.base_url)
    async with running(slow.subscription(ws_url(sim), heartbeat_interval_s=60, idle_timeout_s=60)):
        await eventually_async(lambda: slow.disconnected)
    closed = await in_thread(sim.client.ledger, kind="ws.closed")
    assert closed[1]["reason"] == "heartbeat_timeout" and slow.disconnected[0] == "closed_1001"


async def test_stop_ends_run_promptly_and_closes_the_socket_when_connected(
    make_sim: Callable[..., SimServer],
) -> None:
    sim = make_sim()
    rec = Recorder(sim.base_url)
    stop = asyncio.Event()
    task = asyncio.create_task(rec.subscription(ws_url(sim), heartbeat_interval_s=30).run(stop))
    await eventually_async(lambda: rec.connected == 1)
    stop.set()
    await asyncio.wait_for(task, timeout=3)
    assert task.exception() is None
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    closed = await in_thread(sim.client.wait_for, "ws.closed")
    assert closed[0]["reason"] == "client_closed"


async def test_stop_ends_run_promptly_when_waiting_in_backoff(make_sim: Callable[..., SimServer]) -> None:
    sim = make_sim()
    await in_thread(sim.client.ws_down, 100_000)
    rec = Recorder(sim.base_url)
    stop = asyncio.Event()
    sub = rec.subscription(ws_url(sim), backoff_initial_s=30.0, backoff_cap_s=60.0)
    task = asyncio.create_task(sub.run(stop))
    await in_thread(sim.client.wait_for, "ws.refused")  # the 503: a failure, then a long backoff
    stop.set()
    await asyncio.wait_for(task, timeout=3)
    assert rec.token_calls == [False] and rec.connected == 0  # stopped during the (seeded, long) backoff


async def test_cancel_closes_the_socket_and_leaves_no_tasks(make_sim: Callable[..., SimServer]) -> None:
    sim = make_sim()
    rec = Recorder(sim.base_url)
    task = asyncio.create_task(rec.subscription(ws_url(sim)).run(asyncio.Event()))
    await eventually_async(lambda: rec.connected == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=3)
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    closed = await in_thread(sim.client.wait_for, "ws.closed")
    assert closed[0]["reason"] == "client_closed"


# ---- against a scripted server ------------------------------------------------------------------

Script = Callable[[ServerConnection], Awaitable[None]]


@contextlib.asynccontextmanager
async def scripted(script: Script) -> AsyncIterator[tuple[str, list[str]]]:
    """A WebSocket server running `script` per connection; yields its URL and the request paths."""
    paths: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        paths.append(ws.request.path if ws.request else "")
        await script(ws)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ws?tenant=eu", paths


def message(body: dict[str, Any]) -> str:
    return json.dumps({"module": "message", "content": json.dumps(body)})


async def ack_heartbeats(ws: ServerConnection) -> None:
    async for frame in ws:
        if json.loads(frame).get("module") == "heartbeat":
            await ws.send(json.dumps({"module": "heartbeat", "success": True}))


async def test_skips_bad_frames_and_survives_a_failing_handler() -> None:
    bodies = [{"event": f"meeting.e{i}", "event_ts": 1000 + i, "payload": {"n": i}} for i in range(3)]

    async def script(ws: ServerConnection) -> None:
        await ws.send(json.dumps({"module": "build_connection", "success": True, "content": "ok"}))
        for frame in (
            "not json",
            json.dumps({"module": "mystery", "content": "?"}),
            message(bodies[0]),
            json.dumps({"module": "message", "content": "{broken"}),
            json.dumps({"no_module": True}),
            message(bodies[1]),
            b"\xff\xfe",
            json.dumps({"module": "message", "content": '{"event": "x", "event_ts": NaN}'}),
            message(bodies[2]),
        ):
            await ws.send(frame)
        await ack_heartbeats(ws)

    rec = Recorder(token="tok/en+")
    rec.fail_on = {"meeting.e0"}
    async with scripted(script) as (url, paths), running(rec.subscription(url)):
        await eventually_async(lambda: len(rec.events) == 3)
        assert rec.events == bodies
        assert rec.connected == 1 and rec.disconnected == []
        # Each frame it could not read was reported with why (an unknown module is not a refusal).
        assert rec.refused == ["invalid_json", "invalid_json", "malformed", "invalid_json", "invalid_json"]
    assert paths[0].startswith("/ws?tenant=eu&subscriptionId=subEvents-0001&access_token=tok%2Fen%2B")


async def test_reconnects_when_the_server_goes_silent() -> None:
    connections = 0

    async def script(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        await ws.send(json.dumps({"module": "build_connection", "success": True, "content": "ok"}))
        async for _ in ws:  # reads heartbeats, never answers
            pass

    rec = Recorder(token="tok/en+")
    async with scripted(script) as (url, _), running(rec.subscription(url, idle_timeout_s=0.3)):
        await eventually_async(lambda: rec.connected >= 2 and connections >= 2)
    assert rec.disconnected[0] == "idle_timeout"


async def test_keeps_retrying_when_the_connection_is_refused() -> None:
    async with scripted(ack_heartbeats) as (url, _):
        pass  # the port is closed again: connections are refused
    rec = Recorder(token="tok/en+")
    async with running(rec.subscription(url)) as (_, task):
        await eventually_async(lambda: len(rec.token_calls) >= 3)
        assert not task.done()
    assert rec.connected == 0 and rec.disconnected == []


async def test_stop_ends_run_promptly_when_the_token_fetch_hangs() -> None:
    fetching = asyncio.Event()

    async def hanging_token(force_refresh: bool) -> str:
        fetching.set()
        await asyncio.Event().wait()
        return "never"

    sub = EventSubscription(
        SubscriptionConfig("ws://127.0.0.1:9/ws", SUBSCRIPTION_ID, 0.1, connect_timeout_s=60.0),
        get_token=hanging_token,
        on_event=Recorder().on_event,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(sub.run(stop))
    await asyncio.wait_for(fetching.wait(), timeout=3)
    stop.set()
    await asyncio.wait_for(task, timeout=3)
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
