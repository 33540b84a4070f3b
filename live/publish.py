"""State changes to the live pages: a small message per change, sent after commit, best effort.

Whoever moves a meeting or a stream (the worker applying Zoom's events, the gateway, the reconciler) must
never wait for, or fail because of, Redis. So the change is handed to one publisher thread per process,
which owns its own event loop and channel layer and sends the messages in order; a full queue or a Redis
error drops the message and logs it. A reader who missed one still converges: every (re)connect sends the
current state, and the next change sends it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from typing import Any

from live.groups import LIST_GROUP, meeting_group, user_group
from rtms.models import Meeting, RtmsStream

logger = logging.getLogger(__name__)

QUEUE_LIMIT = 1000  # state changes waiting for Redis; beyond this they are dropped (and logged)
SEND_TIMEOUT_S = 2.0

Message = dict[str, Any]


class StatePublisher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[tuple[str, ...], Message]] | None = None

    def _ensure_started(self) -> asyncio.AbstractEventLoop:
        # Started on first use and again after a fork (Celery's prefork children inherit no threads).
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                ready = threading.Event()
                thread = threading.Thread(target=self._run, args=(ready,), name="live-state-publisher")
                thread.daemon = True  # a best-effort notifier never holds a process open
                thread.start()
                ready.wait(timeout=5)
                self._pid = os.getpid()
            assert self._loop is not None
            return self._loop

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._queue = asyncio.Queue(maxsize=QUEUE_LIMIT)
        ready.set()
        loop.run_until_complete(self._drain(self._queue))

    async def _drain(self, queue: asyncio.Queue[tuple[tuple[str, ...], Message]]) -> None:
        from channels import DEFAULT_CHANNEL_LAYER
        from channels.layers import channel_layers

        # A layer of its own: channel layer instances keep connections per event loop.
        layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        while True:
            groups, message = await queue.get()
            for group in groups:
                try:
                    await asyncio.wait_for(layer.group_send(group, message), timeout=SEND_TIMEOUT_S)
                except Exception as exc:
                    logger.warning(
                        "live.state_publish_failed",
                        extra={"meeting_id": message.get("meeting_id"), "error": type(exc).__name__},
                    )

    def submit(self, message: Message, *, groups: tuple[str, ...] | None = None) -> None:
        """Queue ``message`` for ``groups``, by default the meeting's group and the list group; never
        raises, never blocks long."""
        try:
            to = groups if groups is not None else (meeting_group(int(message["meeting_id"])), LIST_GROUP)
            loop = self._ensure_started()
            loop.call_soon_threadsafe(self._put, to, message)
        except Exception as exc:
            logger.warning("live.state_publish_failed", extra={"error": type(exc).__name__})

    def _put(self, groups: tuple[str, ...], message: Message) -> None:
        assert self._queue is not None
        try:
            self._queue.put_nowait((groups, message))
        except asyncio.QueueFull:
            logger.warning("live.state_publish_dropped", extra={"meeting_id": message.get("meeting_id")})

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """For tests and benchmarks: True once everything queued so far was sent (or dropped)."""
        loop, queue = self._loop, self._queue
        if loop is None or queue is None:
            return True
        done = threading.Event()

        async def check() -> None:
            while not queue.empty():
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)  # the message taken last may still be on its way
            done.set()

        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(check(), loop)
        return done.wait(timeout)


PUBLISHER = StatePublisher()


def state_message(
    *,
    meeting_id: int,
    region_code: str,
    meeting_state: str,
    stream_id: int | None,
    stream_state: str | None,
    transition_id: int,
) -> Message:
    """The group message (``type`` names the consumers' handler); ids and state names only, no content."""
    return {
        "type": "live.state",
        "meeting_id": meeting_id,
        "region_code": region_code,
        "meeting_state": meeting_state,
        "stream_id": stream_id,
        "stream_state": stream_state,
        "transition_id": transition_id,
    }


def publish_stream_change(stream_id: int, stream_state: str, transition_id: int) -> None:
    """After commit: look up the stream's meeting (one indexed read) and queue the message."""
    try:
        row = (
            RtmsStream.objects.filter(pk=stream_id)
            .values_list("meeting_id", "meeting__region__code", "meeting__state")
            .first()
        )
    except Exception as exc:  # the change is committed; a failed notification must not undo its caller
        logger.warning(
            "live.state_publish_failed", extra={"stream_id": stream_id, "error": type(exc).__name__}
        )
        return
    if row is None:
        return
    meeting_id, region_code, meeting_state = row
    PUBLISHER.submit(
        state_message(
            meeting_id=meeting_id,
            region_code=region_code or "",
            meeting_state=meeting_state,
            stream_id=stream_id,
            stream_state=stream_state,
            transition_id=transition_id,
        )
    )


def ask_reauthorize(user_id: int) -> None:
    """Tell the user's open live sockets to check their access now (a logout, a change to the user)."""
    PUBLISHER.submit({"type": "live.reauthorize"}, groups=(user_group(user_id),))


def publish_meeting_erased(sender: object, *, meeting_id: int, **_: object) -> None:
    """The receiver of ``rtms.hooks.meeting_erased`` (after the erasure committed): the meeting's open live
    pages are closed, and the list pages drop its row."""
    try:
        region_code = Meeting.objects.filter(pk=meeting_id).values_list("region__code", flat=True).first()
    except Exception as exc:  # the erasure stands; a page left open has nothing more to show
        logger.warning(
            "live.state_publish_failed", extra={"meeting_id": meeting_id, "error": type(exc).__name__}
        )
        return
    PUBLISHER.submit({"type": "live.erased", "meeting_id": meeting_id, "region_code": region_code or ""})


def publish_meeting_change(meeting_id: int, meeting_state: str) -> None:
    try:
        region_code = Meeting.objects.filter(pk=meeting_id).values_list("region__code", flat=True).first()
    except Exception as exc:
        logger.warning(
            "live.state_publish_failed", extra={"meeting_id": meeting_id, "error": type(exc).__name__}
        )
        return
    PUBLISHER.submit(
        state_message(
            meeting_id=meeting_id,
            region_code=region_code or "",
            meeting_state=meeting_state,
            stream_id=None,
            stream_state=None,
            transition_id=0,
        )
    )
