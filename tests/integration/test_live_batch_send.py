"""``group_send_many``: pipelined PUBLISHes on the project's Redis pub/sub channel layer (real Redis, the
project's CHANNEL_LAYERS settings), and the plain ``group_send`` loop for any other layer."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings
from django.utils.module_loading import import_string

from controlplane.runtime.channels_redis_pubsub import _pipelined_shards, group_send_many
from tests.eventually import eventually_async

TIMEOUT = 10
PROBE_INTERVAL_S = 0.5

Message = dict[str, Any]


def _redis_layer(*, shards: int = 1) -> RedisPubSubChannelLayer:
    """A fresh layer built from the project's setting, under a prefix of its own: Redis pub/sub channels
    are shared by every database number, so two test runs on one Redis must not hear each other."""
    conf: dict[str, Any] = settings.CHANNEL_LAYERS["default"]
    backend = import_string(conf["BACKEND"])
    assert backend is RedisPubSubChannelLayer, "the project's live page runs on the Redis pub/sub layer"
    config: dict[str, Any] = dict(conf["CONFIG"])
    config["hosts"] = list(config["hosts"]) * shards
    config["prefix"] = f"{config['prefix']}-test-{uuid.uuid4().hex[:12]}"
    layer: RedisPubSubChannelLayer = backend(**config)
    return layer


class Listener:
    """One channel in some groups, received without pause into a queue (a receive cancelled by a timeout
    would unsubscribe the pub/sub layer's channel); probes are noted apart, as the groups heard."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.channel = ""
        self.heard: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self, groups: list[str]) -> None:
        self.channel = await self.layer.new_channel()
        for group in groups:
            await self.layer.group_add(group, self.channel)
        self._task = asyncio.create_task(self._receive())
        for group in groups:
            await self._until_subscribed(group)

    async def _receive(self) -> None:
        while True:
            message = await self.layer.receive(self.channel)
            if message["type"] == "probe":
                self.heard.add(message["group"])
            else:
                await self.inbox.put(message)

    async def _until_subscribed(self, group: str) -> None:
        """SUBSCRIBE is not acknowledged before ``group_add`` returns: probe until the group is heard."""
        probing = asyncio.create_task(self._probe(group))
        try:
            await eventually_async(
                lambda: group in self.heard, timeout=TIMEOUT, what=f"group {group!r} heard"
            )
        finally:
            probing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probing

    async def _probe(self, group: str) -> None:
        # A probe published before the SUBSCRIBE took effect is lost: send again until one is heard.
        while True:
            await self.layer.group_send(group, {"type": "probe", "group": group})
            await asyncio.sleep(PROBE_INTERVAL_S)

    async def receive(self, count: int) -> list[Message]:
        """The next ``count`` messages (probes never reach the inbox)."""
        return [await asyncio.wait_for(self.inbox.get(), TIMEOUT) for _ in range(count)]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@contextlib.asynccontextmanager
async def _listening(layer: Any, groups: list[str]) -> AsyncIterator[Listener]:
    listener = Listener(layer)
    try:
        await listener.start(groups)
        yield listener
    finally:
        await listener.stop()
        await layer.flush()  # also closes the pub/sub layer's connections


def _messages(groups: list[str], per_group: int) -> list[tuple[str, Message]]:
    """Interleaved across groups, numbered per group, carrying the shapes the live page gets."""
    return [
        (
            group,
            {
                "type": "transcript.segments",
                "group": group,
                "n": n,
                "segments": [{"stream_id": 7, "seq": n, "text": f"line {n} ✓", "end_ms": None}],
            },
        )
        for n in range(per_group)
        for group in groups
    ]


def _per_group(messages: list[Message]) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for message in messages:
        seen.setdefault(message["group"], []).append(message["n"])
    return seen


def _groups_on_distinct_shards(layer: RedisPubSubChannelLayer, count: int) -> list[str]:
    inner = layer._get_layer()
    groups: dict[int, str] = {}
    for i in range(1000):
        group = f"meeting-{i}"
        groups.setdefault(id(inner._get_shard(inner._get_group_channel_name(group))), group)
        if len(groups) == count:
            return list(groups.values())
    raise AssertionError("no groups on distinct shards")


@pytest.mark.parametrize("shards", [1, 2], ids=["one-shard", "two-shards"])
async def test_pipelined_messages_reach_every_group_in_order(shards: int) -> None:
    layer = _redis_layer(shards=shards)
    groups = _groups_on_distinct_shards(layer, 2) if shards > 1 else ["meeting-1", "meeting-2"]
    batch = _messages(groups, per_group=25)
    plan = _pipelined_shards(layer, batch)
    assert plan is not None, "the pinned channels_redis must take the pipelined path, not the fallback"
    assert len(plan) == shards
    async with _listening(layer, groups) as listener:
        await group_send_many(layer, batch)
        received = await listener.receive(len(batch))
        await group_send_many(layer, [])  # nothing to send is fine
        await group_send_many(layer, _messages(groups[:1], per_group=1))
        (last,) = await listener.receive(1)
    assert _per_group(received) == {group: list(range(25)) for group in groups}
    for group in groups:
        assert [m for m in received if m["group"] == group] == [m for g, m in batch if g == group]
    if shards == 1:  # one connection publishes, one listens: even the order across groups holds
        assert received == [message for _, message in batch]
    assert last == _messages(groups[:1], per_group=1)[0][1]


async def test_pipelined_messages_reach_only_the_groups_addressed() -> None:
    layer = _redis_layer()
    async with _listening(layer, ["meeting-a"]) as listener:
        await group_send_many(layer, _messages(["meeting-b", "meeting-a", "meeting-b"], per_group=3))
        received = await listener.receive(3)
        await group_send_many(layer, _messages(["meeting-a"], per_group=1))
        (marker,) = await listener.receive(1)  # nothing for meeting-b slipped in before it
    assert _per_group(received) == {"meeting-a": [0, 1, 2]}
    assert marker["group"] == "meeting-a"


async def test_any_other_layer_gets_the_same_messages_through_group_send() -> None:
    layer = InMemoryChannelLayer()
    groups = ["meeting-1", "meeting-2"]
    batch = _messages(groups, per_group=25)
    assert _pipelined_shards(layer, batch) is None
    async with _listening(layer, groups) as listener:
        await group_send_many(layer, batch)
        received = await listener.receive(len(batch))
    assert received == [message for _, message in batch]  # one in-process queue: even the overall order
