"""What controlplane/runtime/channels_redis_pubsub.py assumes of channels_redis's pub/sub layer, and its
fallback (the pipelined path itself runs against real Redis in tests/integration/test_live_batch_send.py)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection

from controlplane.runtime import channels_redis_pubsub
from controlplane.runtime.channels_redis_pubsub import _pipelined_shards, group_send_many
from tests.unit.controlplane.runtime.conftest import SkippedEvents

MESSAGES: list[tuple[str, dict[str, Any]]] = [("meeting-1", {"type": "x"}), ("meeting-2", {"type": "y"})]


def _layer() -> RedisPubSubChannelLayer:
    return RedisPubSubChannelLayer(hosts=["redis://127.0.0.1:9/0", "redis://127.0.0.1:9/1"])  # never dialled


async def test_the_layer_names_and_shards_group_channels_as_the_pipelining_expects() -> None:
    layer = _layer()
    inner = layer._get_layer()
    assert isinstance(inner, RedisPubSubLoopLayer)
    channel = inner._get_group_channel_name("meeting-1")
    shard = inner._get_shard(channel)
    assert isinstance(shard, RedisSingleShardConnection)
    assert {"_lock", "_redis"} <= set(vars(shard))
    assert callable(shard._ensure_redis)
    assert isinstance(layer.serialize({"type": "x"}), bytes)
    # group_send publishes the same serialized message to the same channel, under the shard's lock.
    assert "self._get_group_channel_name(group)" in inspect.getsource(RedisPubSubLoopLayer.group_send)
    assert "self._redis.publish(channel, message)" in inspect.getsource(RedisSingleShardConnection.publish)


async def test_the_known_layer_is_pipelined_on_the_channels_redis_it_was_written_for(
    skipped_events: SkippedEvents,
) -> None:
    assert channels_redis_pubsub.PATCH.check()
    assert _pipelined_shards(_layer(), MESSAGES) is not None
    assert skipped_events() == []


async def test_even_the_known_layer_gets_plain_group_sends_when_channels_redis_is_another_version(
    on_other_versions: SkippedEvents, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipelining = channels_redis_pubsub.PATCH.check()  # what the module decided when it was imported
    assert on_other_versions() == [
        {"patch": "channels_redis_pubsub", "library": "channels_redis", "found": "0.0", "expected": "4.3"}
    ]
    monkeypatch.setattr(channels_redis_pubsub, "_PIPELINING", pipelining)
    layer = _layer()
    sent: list[tuple[str, dict[str, Any]]] = []

    async def group_send(group: str, message: dict[str, Any]) -> None:
        sent.append((group, message))

    monkeypatch.setattr(layer, "group_send", group_send)
    assert _pipelined_shards(layer, MESSAGES) is None
    await group_send_many(layer, MESSAGES)
    assert sent == MESSAGES
