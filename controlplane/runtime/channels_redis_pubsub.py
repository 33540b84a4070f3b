"""Many group messages in one Redis round trip on channels_redis's pub/sub layer.

A busy gateway commits segments of hundreds of meetings per flush, one group message per meeting. With
``group_send`` each is a PUBLISH awaited on its own: a round trip per meeting every flush, most of the
gateway's time for nothing (bench/gateway.py; docs/benchmarks.md, "fanout"). ``group_send_many`` pipelines
them, per Redis shard.

It reaches into channels_redis's pub/sub layer (the shard's client, its lock and its channel naming), which
has no public batch call, so it is checked against the channels_redis it was read in when this module is
imported (the gateway's start-up). Any other channels_redis version, any other layer, or a layer whose
internals moved gets the plain ``group_send`` loop, so a changed dependency degrades speed, never delivery
(tests/integration/test_live_batch_send.py proves both paths against real Redis; docs/patches.md).
"""

from __future__ import annotations

from typing import Any

from controlplane.runtime.patch import Patch, Pin

PATCH = Patch("channels_redis_pubsub", (Pin("channels_redis", ((4, 3),)),))

_PIPELINING = PATCH.check()

GroupMessage = tuple[str, dict[str, Any]]


async def group_send_many(layer: Any, messages: list[GroupMessage]) -> None:
    """Send each (group, message) as ``layer.group_send`` would, in order per group."""
    if not messages:
        return
    shards = _pipelined_shards(layer, messages)
    if shards is None:
        for group, message in messages:
            await layer.group_send(group, message)
        return
    for shard, items in shards:
        async with shard._lock:
            shard._ensure_redis()
            async with shard._redis.pipeline(transaction=False) as pipe:
                for channel, payload in items:
                    pipe.publish(channel, payload)
                await pipe.execute()


def _pipelined_shards(
    layer: Any, messages: list[GroupMessage]
) -> list[tuple[Any, list[tuple[str, bytes]]]] | None:
    """The PUBLISHes grouped by shard, or None when ``layer`` is not the pub/sub layer we know."""
    if not _PIPELINING:
        return None
    try:
        from channels_redis.pubsub import RedisPubSubChannelLayer
    except ImportError:
        return None
    if not isinstance(layer, RedisPubSubChannelLayer):
        return None
    inner = layer._get_layer()
    if not all(hasattr(inner, name) for name in ("_get_group_channel_name", "_get_shard")):
        return None
    by_shard: dict[int, tuple[Any, list[tuple[str, bytes]]]] = {}
    for group, message in messages:
        channel = inner._get_group_channel_name(group)
        shard = inner._get_shard(channel)
        if not all(hasattr(shard, name) for name in ("_lock", "_ensure_redis")):
            return None
        by_shard.setdefault(id(shard), (shard, []))[1].append((channel, layer.serialize(message)))
    return list(by_shard.values())
