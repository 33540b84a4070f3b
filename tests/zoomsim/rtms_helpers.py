"""A small raw RTMS client (websockets) for zoomsim's tests: handshakes, ready ack, keep-alive answers."""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from tests.zoomsim.conftest import RTMS_APP
from zoomsim.signing import rtms_handshake_signature


def signature(meeting_uuid: str, stream_id: str, secret: str = RTMS_APP.client_secret) -> str:
    return rtms_handshake_signature(RTMS_APP.client_id, secret, meeting_uuid, stream_id)


@dataclass
class Sock:
    """One WebSocket with a background reader: every JSON message goes to `inbox` (keep-alives are
    answered unless `answer_keepalive` is False)."""

    ws: ClientConnection
    answer_keepalive: bool = True
    inbox: list[dict[str, Any]] = field(default_factory=list)
    keepalives: list[dict[str, Any]] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    _new: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    def start(self) -> Sock:
        self._task = asyncio.get_running_loop().create_task(self._read())
        return self

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                if msg.get("msg_type") == 12:
                    self.keepalives.append(msg)
                    if self.answer_keepalive:
                        await self.ws.send(
                            json.dumps(
                                {"msg_type": 13, "sequence": msg["sequence"], "timestamp": msg["timestamp"]}
                            )
                        )
                    continue
                self.inbox.append(msg)
                self._new.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self._new.set()

    async def send(self, obj: dict[str, Any], binary: bool = False) -> None:
        data = json.dumps(obj)
        await self.ws.send(data.encode() if binary else data)

    async def wait(self, msg_type: int, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        """The first message of `msg_type` (and matching fields) not yet taken; it is removed."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for i, m in enumerate(self.inbox):
                if m.get("msg_type") == msg_type and all(m.get(k) == v for k, v in match.items()):
                    return self.inbox.pop(i)
            if self.closed.is_set():
                raise AssertionError(f"socket closed before msg_type {msg_type}; inbox={self.inbox}")
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"no msg_type {msg_type} {match} within {timeout}s; inbox={self.inbox}")
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), left)
            except TimeoutError:
                pass

    def of_type(self, msg_type: int) -> list[dict[str, Any]]:
        return [m for m in self.inbox if m.get("msg_type") == msg_type]

    async def close(self) -> None:
        await self.ws.close()
        if self._task is not None:
            await asyncio.wait([self._task], timeout=5)

    async def wait_closed(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self.closed.wait(), timeout)


async def connect(url: str, ca_file: str | None = None, answer_keepalive: bool = True) -> Sock:
    ctx = ssl.create_default_context(cafile=ca_file) if url.startswith("wss://") else None
    ws = await websockets.connect(url, ssl=ctx, open_timeout=5, close_timeout=2)
    return Sock(ws, answer_keepalive=answer_keepalive).start()


@dataclass
class RtmsSession:
    signaling: Sock
    media: dict[str, Sock]
    urls: dict[str, str]


async def join(
    payload: dict[str, Any],
    media: tuple[str, ...] = ("transcript",),
    ready: bool = True,
    ca_file: str | None = None,
    answer_keepalive: bool = True,
    subscribe: list[int] | None = None,
) -> RtmsSession:
    """Signaling handshake, one media socket per type, CLIENT_READY_ACK: what a client does."""
    muid, sid = payload["meeting_uuid"], payload["rtms_stream_id"]
    sig = signature(muid, sid)
    s = await connect(payload["server_urls"].split(",")[0], ca_file, answer_keepalive)
    await s.send(
        {
            "msg_type": 1,
            "protocol_version": 1,
            "sequence": 1,
            "meeting_uuid": muid,
            "rtms_stream_id": sid,
            "signature": sig,
        }
    )
    resp = await s.wait(2)
    assert resp["status_code"] == 0, resp
    urls = resp["media_server"]["server_urls"]
    if subscribe:
        await s.send({"msg_type": 5, "events": [{"event_type": e, "subscribe": True} for e in subscribe]})
    socks: dict[str, Sock] = {}
    bits = {"audio": 1, "video": 2, "deskshare": 4, "transcript": 8, "chat": 16, "all": 32}
    for t in media:
        m = await connect(urls[t], ca_file, answer_keepalive)
        await m.send(
            {
                "msg_type": 3,
                "protocol_version": 1,
                "sequence": 0,
                "meeting_uuid": muid,
                "rtms_stream_id": sid,
                "signature": sig,
                "media_type": bits[t],
            },
            binary=True,
        )
        r = await m.wait(4)
        assert r["status_code"] == 0, r
        socks[t] = m
    if ready:
        await s.send({"msg_type": 7, "rtms_stream_id": sid})
        await s.wait(8, state=1)
    return RtmsSession(s, socks, urls)


def started_payload(client: Any, meeting_uuid: str, count: int = 1, timeout: float = 5.0) -> dict[str, Any]:
    """The payload of the `count`-th meeting.rtms_started of a meeting (from the ledger)."""
    entries = client.wait_for(
        "event.emitted", count=count, timeout=timeout, event="meeting.rtms_started", meeting_uuid=meeting_uuid
    )
    payload: dict[str, Any] = entries[count - 1]["payload"]
    return payload
