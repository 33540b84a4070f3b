"""A Celery worker that has stopped taking work restarts itself.

Why: after a broker restart, a worker that was busy can come back connected but never consume again (kombu's
hub fails while closing the lost channels; celery/celery#8030 describes the same symptom). Everything we
queue is also in the database, so nothing is lost, but a worker that silently stops consuming would leave
repairs waiting until a person noticed. The inbox and the reconciler must not depend on kombu reconnecting
perfectly.

The test is about behaviour, not internals: messages have been waiting in one of this worker's queues for
a whole window, the broker answers, and the worker had a free slot the whole time. That is a stall, and the
worker restarts in place the way Celery's own SIGHUP handler does: a warm shutdown (running tasks finish;
with ``acks_late`` the unacknowledged ones go back to the queue), then the same command is exec'd again.
If the warm shutdown itself hangs, the process exits with ``EX_TEMPFAIL`` so its supervisor starts a new one.

What it relies on, beyond Celery's public signals: Celery 5.7's worker state (``state.reserved_requests``,
``state.should_stop`` read as an exit code) and its SIGHUP restart (close the descriptors, exec again at
exit), and kombu 5.7's Redis key layout for a queue's priority levels. On other versions of either the
watchdog does not start (docs/patches.md).
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from controlplane.runtime.patch import Patch, Pin

logger = logging.getLogger(__name__)

PATCH = Patch("celery_worker", (Pin("celery", ((5, 7),)), Pin("kombu", ((5, 7),))))

EX_OK = 0
EX_TEMPFAIL = 75
# kombu's Redis transport keeps a queue's priority levels in separate lists: the name, then name + sep + n.
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


def queue_keys(queue: str) -> list[str]:
    return [queue, *(f"{queue}{_PRIORITY_SEPARATOR}{step}" for step in _PRIORITY_STEPS)]


@dataclass
class StallDetector:
    """Pure bookkeeping: for a whole window, did work wait while the worker had free capacity and nothing
    was taken from its queues?"""

    window_s: float
    since: float | None = field(default=None)
    last_waiting: int = 0

    def observe(self, *, now: float, waiting: int | None, free_slots: int) -> bool:
        """One sample. ``waiting`` is None when the broker did not answer (that is not a stall: the
        worker's own reconnect handles a broker outage). Returns True once the stall has lasted a window."""
        progressed = waiting is not None and waiting < self.last_waiting  # something was taken
        self.last_waiting = waiting or 0
        if waiting is None or waiting == 0 or free_slots <= 0 or progressed:
            self.since = None
            return False
        if self.since is None:
            self.since = now
        return now - self.since >= self.window_s


def _free_slots(concurrency: int) -> int:
    from celery.worker import state

    return concurrency - len(state.reserved_requests)


def _reexec() -> None:
    from celery import platforms

    platforms.close_open_fds({0, 1, 2})  # keep stdin, stdout and stderr, as Celery's SIGHUP restart does
    # orig_argv keeps ``-m celery``; Celery's own SIGHUP restart uses argv and fails under ``python -m``.
    os.execv(sys.executable, sys.orig_argv)


def _restart_in_place() -> None:
    """What Celery's SIGHUP handler does, without needing the signal (it is not installed on a terminal)."""
    from celery.worker import state

    atexit.register(_reexec)
    setattr(state, "should_stop", EX_OK)  # noqa: B010  (the stubs type it None; Celery sets an exit code)


class WorkerWatchdog:
    def __init__(
        self,
        *,
        broker_url: str,
        queues: Iterable[str],
        concurrency: int,
        window_s: float,
        restart: Callable[[], None] = _restart_in_place,
        hard_exit: Callable[[int], None] = os._exit,
    ) -> None:
        self._broker_url = broker_url
        self._queues = sorted(set(queues))
        self._concurrency = max(1, concurrency)
        self._detector = StallDetector(window_s)
        self._interval = max(0.2, window_s / 5)
        self._restart = restart
        self._hard_exit = hard_exit
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="worker-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _waiting(self, client: Any) -> int | None:
        try:
            pipe = client.pipeline(transaction=False)
            for queue in self._queues:
                for key in queue_keys(queue):
                    pipe.llen(key)
            return int(sum(pipe.execute()))
        except Exception:  # broker down or slow: Celery's own reconnect is on it
            return None

    def _run(self) -> None:
        import redis

        client = redis.Redis.from_url(self._broker_url, socket_timeout=2, socket_connect_timeout=2)
        try:
            while not self._stop.wait(self._interval):
                waiting = self._waiting(client)
                free = _free_slots(self._concurrency)
                if self._detector.observe(now=time.monotonic(), waiting=waiting, free_slots=free):
                    self._on_stall(waiting or 0, free)
                    return
        finally:
            client.close()

    def _on_stall(self, waiting: int, free_slots: int) -> None:
        logger.error(
            "worker.stalled",
            extra={"queues": self._queues, "waiting": waiting, "free_slots": free_slots},
        )
        self._restart()
        # A warm shutdown that has not finished after two more windows is not coming: let the supervisor
        # start a fresh process. (A successful restart execs, which ends this thread with the old image.)
        time.sleep(self._detector.window_s * 2 + 30)
        logger.error("worker.restart_hung", extra={"queues": self._queues})
        self._hard_exit(EX_TEMPFAIL)


_watchdog: WorkerWatchdog | None = None


def on_worker_ready(sender: Any, **_: Any) -> None:
    """``worker_ready``: start watching the queues this worker was started to consume."""
    global _watchdog
    from django.conf import settings

    window = settings.WORKER_STALL_AFTER.total_seconds()
    if window <= 0 or _watchdog is not None:  # off, or already watching (the consumer restarted)
        return
    consumer = sender  # the worker's Consumer
    queues = list(consumer.app.amqp.queues.consume_from.keys())
    broker_url = consumer.app.conf.broker_url or ""
    if not broker_url.startswith(("redis://", "rediss://")):
        return  # the waiting-messages test reads kombu's Redis lists
    if not PATCH.check():
        return  # Celery's own behaviour: no watchdog
    _watchdog = WorkerWatchdog(
        broker_url=broker_url,
        queues=queues,
        concurrency=int(getattr(consumer.controller, "concurrency", None) or 1),
        window_s=window,
    )
    _watchdog.start()
    logger.info("worker.watchdog_started", extra={"queues": sorted(queues), "window_s": window})


def on_worker_shutting_down(**_: Any) -> None:
    if _watchdog is not None:
        _watchdog.stop()
