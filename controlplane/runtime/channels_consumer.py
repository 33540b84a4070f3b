"""A Channels JSON WebSocket consumer without Channels' database connection check before every message.

Channels' ``AsyncConsumer.dispatch`` closes stale database connections before every message it hands to a
handler, a thread hop each: a large share of a busy web process's time in bench/fanout.py
(docs/benchmarks.md, "fanout"), where most messages touch no database at all. Only for consumers that
reach the database solely through something that closes stale connections itself, in the thread where the
query runs (this project's live consumers use ``rtms.asyncdb.db``).

``dispatch`` is Channels 4.3's, less that check; on any other Channels version (checked when this module
is imported, with the consumers, at the web process's start-up) it is Channels' own (docs/patches.md).
"""

from __future__ import annotations

from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from controlplane.runtime.patch import Patch, Pin

PATCH = Patch("channels_consumer", (Pin("channels", ((4, 3),)),))

_SKIP_CONNECTION_CHECK = PATCH.check()


class JsonConsumerWithoutConnectionCheck(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    async def dispatch(self, message: dict[str, Any]) -> None:
        if not _SKIP_CONNECTION_CHECK:
            await super().dispatch(message)
            return
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message.get('type')!r}")
        await handler(message)
