"""Route tasks for committed inbox rows, handed to the broker by a background thread, in batches.

Publishing one Celery task costs about half a millisecond of CPU (configuration lookups, message building,
a Redis round trip): more than the rest of a webhook's own work (bench/ingest.py, docs/benchmarks.md). So
a request only hands the committed row's id to this process's publisher and answers; the publisher's
thread sends what has gathered within ``LINGER_S`` as one message: ``rtms.route_event`` for a single id
(light load, no extra hop), ``rtms.route_events`` for several (a worker fans it out into one
``route_event`` each, so every event keeps its own retries and time limit).

Nothing is lost with the ids held here: a row's id is handed over only after the row committed, and the
inbox sweeper re-enqueues rows still pending after ``INBOX_SWEEP_AFTER`` (a process killed with ids in
memory, a broker that refused the publish, ids dropped because too many were waiting).
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable, Sequence

from rtms import metrics

logger = logging.getLogger(__name__)

MAX_BATCH = 500  # ids per message; 500 ids are about 4 KB of JSON
# After the first id, wait this long for more: under load, messages then carry several ids each (fewer
# publishes: at ~300 webhooks/s, 5 ms gave about 2 ids per message, 20 ms about 10, and a tenth more
# webhooks/s in bench/ingest.py). Routing 20 ms later is nothing against Zoom's 60 s RTMS window.
LINGER_S = 0.02
MAX_WAITING = 100_000  # beyond this (broker down for long), ids are dropped and left to the sweeper
EXIT_FLUSH_TIMEOUT_S = 2.0

Send = Callable[[Sequence[int]], None]


class RoutePublisher:
    """One per process; the thread starts on first use and again after a fork (the child's own)."""

    def __init__(
        self,
        send: Send,
        *,
        max_batch: int = MAX_BATCH,
        max_waiting: int = MAX_WAITING,
        linger_s: float = LINGER_S,
    ) -> None:
        self._send = send
        self._max_batch = max_batch
        self._linger_s = linger_s
        self._max_waiting = max_waiting
        self._lock = threading.Lock()
        self._pid = -1
        self._waiting: queue.Queue[int | threading.Event] = queue.Queue()
        self._thread: threading.Thread | None = None
        # A fork copies the lock as it is: held by a parent thread that does not exist in the child, it
        # would stay held there forever and the child's first submit would hang. The child gets a new one.
        this = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _renew_lock(this()))

    def submit(self, event_id: int) -> None:
        """Never blocks and never raises: the row is committed, and the sweeper is the safety net."""
        waiting = self._running_queue()
        try:
            waiting.put_nowait(event_id)
        except queue.Full:
            metrics.ENQUEUE_FAILURES.labels("overflow").inc()
            logger.warning("inbox.enqueue_dropped", extra={"event_id": event_id})

    def flush(self, timeout_s: float) -> bool:
        """Wait until every id submitted before this call was published (or its publish failed)."""
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                return True
            waiting = self._waiting
        done = threading.Event()
        try:
            waiting.put(done, timeout=timeout_s)
        except queue.Full:
            return False
        return done.wait(timeout_s)

    def _running_queue(self) -> queue.Queue[int | threading.Event]:
        pid = os.getpid()
        thread = self._thread
        if self._pid == pid and thread is not None and thread.is_alive():
            return self._waiting  # the hot path: no lock once the thread runs in this process
        with self._lock:
            if self._pid != pid:
                # First use, or a forked child: the parent's thread does not exist here, and the ids it
                # holds are the parent's to publish.
                self._waiting = queue.Queue(maxsize=self._max_waiting)
            elif self._thread is not None and self._thread.is_alive():
                return self._waiting  # another caller started it while this one waited for the lock
            elif self._thread is not None:
                # Only a BaseException out of a send ends the thread; the ids it left keep their queue.
                logger.error("inbox.route_publisher_restarted", extra={"waiting": self._waiting.qsize()})
            self._thread = threading.Thread(
                target=self._run, args=(self._waiting,), name="route-publisher", daemon=True
            )
            self._thread.start()
            self._pid = pid
            return self._waiting

    def _run(self, waiting: queue.Queue[int | threading.Event]) -> None:
        while True:
            batch: list[int] = []
            flushed: list[threading.Event] = []
            item = waiting.get()
            until = time.monotonic() + self._linger_s
            while True:
                if isinstance(item, threading.Event):
                    flushed.append(item)
                    until = 0.0  # someone waits for what is gathered so far: send it now
                else:
                    batch.append(item)
                if len(batch) >= self._max_batch:
                    break
                try:
                    item = waiting.get(timeout=max(0.0, until - time.monotonic()))
                except queue.Empty:
                    break
            if batch:
                self._publish(batch)
            for done in flushed:
                done.set()

    def _publish(self, batch: list[int]) -> None:
        try:
            self._send(batch)
        except Exception as exc:  # any broker failure; the sweeper re-enqueues these rows
            metrics.ENQUEUE_FAILURES.labels("broker").inc(len(batch))
            logger.warning(
                "inbox.enqueue_failed",
                extra={"event_id": batch[0], "events": len(batch), "error": type(exc).__name__},
            )


def _renew_lock(publisher: RoutePublisher | None) -> None:
    if publisher is not None:
        publisher._lock = threading.Lock()


def send_route_tasks(event_ids: Sequence[int]) -> None:
    from rtms.tasks import route_event, route_events

    if len(event_ids) == 1:
        route_event.apply_async(kwargs={"event_id": event_ids[0]})
    else:
        route_events.apply_async(kwargs={"event_ids": list(event_ids)})


ROUTE_PUBLISHER = RoutePublisher(send_route_tasks)
atexit.register(ROUTE_PUBLISHER.flush, EXIT_FLUSH_TIMEOUT_S)
