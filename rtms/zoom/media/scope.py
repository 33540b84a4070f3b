"""What one connection attempt owns: the decision that ends it, the tasks it spawned, the sockets it opened.

One scope per attempt. Teardown cancels every task and closes every socket, so nothing of an attempt
outlives it, and the next attempt starts from a new scope rather than from reset fields.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Final

from websockets.asyncio.client import ClientConnection

from rtms.zoom.media.config import LOGGER_NAME
from rtms.zoom.media.decisions import Decision, Reconnect
from rtms.zoom.media.frames import Frames
from rtms.zoom.transport import StreamTarget

logger = logging.getLogger(LOGGER_NAME)

TASK_PREFIX: Final = "rtms-media"


class ConnectionScope:
    def __init__(self, target: StreamTarget, frames: Frames) -> None:
        self._target = target
        self._frames = frames
        self.decision: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self.ready = False  # every handshake done and CLIENT_READY_ACK sent
        self._sockets: set[ClientConnection] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def decide(self, decision: Decision) -> None:
        if not self.decision.done():
            self.decision.set_result(decision)

    def spawn(self, coro: Coroutine[object, object, None], name: str) -> None:
        task = asyncio.create_task(coro, name=f"{TASK_PREFIX}:{self._target.rtms_stream_id}:{name}")
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._reap(done, name))

    def _reap(self, task: asyncio.Task[None], name: str) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        # A bug in one task must not leave the stream unheld: log it and reconnect.
        error = task.exception()
        logger.error(
            "rtms.media.task_crashed",
            extra={**self._target.ids, "task": name, "error": type(error).__name__},
            exc_info=error,
        )
        self.decide(Reconnect(f"crashed_{name}"))

    def track(self, ws: ClientConnection) -> None:
        self._sockets.add(ws)

    async def discard(self, ws: ClientConnection) -> None:
        await self._frames.close(ws)
        self._sockets.discard(ws)  # only now: if closing was cancelled, teardown still closes it

    async def teardown(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        sockets = list(self._sockets)
        self._sockets.clear()
        await asyncio.gather(*(self._frames.close(ws) for ws in sockets), return_exceptions=True)
