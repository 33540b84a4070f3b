"""Publishing the inbox's tasks: the one module that sends them, by their stable names (so nothing here
imports rtms/tasks.py, which imports the steps these tasks run), and that owns the route publisher.

Route tasks for committed inbox rows are handed to the broker by a background thread, in batches.
Publishing one Celery task costs more CPU than the rest of a webhook's own work (bench/ingest.py,
docs/benchmarks.md). So a request only hands the committed row's id to this process's publisher and
answers; the publisher's thread sends what has gathered within ``LINGER_S`` as one message:
``rtms.route_event`` for a single id (light load, no extra hop), ``rtms.route_events`` for several (a worker
fans it out into one ``route_event`` each, so every event keeps its own retries and time limit).

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
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta

from celery import current_app

from regions.queues import queue_for, region_of
from rtms import metrics

logger = logging.getLogger(__name__)

# The tasks' stable names (contracts: queued messages outlive a deploy); rtms/tasks.py registers them.
ROUTE_EVENT = "rtms.route_event"
ROUTE_EVENTS = "rtms.route_events"
APPLY_EVENT = "rtms.apply_event"
START_RTMS = "rtms.start_rtms"

MAX_BATCH = 500  # ids per message; 500 ids are about 4 KB of JSON
# After the first id, wait this long for more: under load, messages then carry several ids each, so there
# are fewer publishes (docs/benchmarks.md, "route publisher"). Routing 20 ms later is nothing against
# Zoom's 60 s RTMS window.
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
    if len(event_ids) == 1:
        current_app.send_task(ROUTE_EVENT, kwargs={"event_id": event_ids[0]})
    else:
        current_app.send_task(ROUTE_EVENTS, kwargs={"event_ids": list(event_ids)})


def send_route_each(event_ids: Sequence[int]) -> None:
    """One ``route_event`` per id, over one producer connection (a worker fanning out a batch)."""
    with current_app.producer_or_acquire() as producer:
        for event_id in event_ids:
            current_app.send_task(ROUTE_EVENT, kwargs={"event_id": event_id}, producer=producer)


ROUTE_PUBLISHER = RoutePublisher(send_route_tasks)
atexit.register(ROUTE_PUBLISHER.flush, EXIT_FLUSH_TIMEOUT_S)


def enqueue_route(event_id: int) -> None:
    """Hand a committed event to a worker, soon: the process's route publisher sends it from its own
    thread, so the caller never waits for the broker. A broker that is down must not fail the delivery:
    the row is committed and the inbox sweeper re-enqueues what is pending."""
    ROUTE_PUBLISHER.submit(event_id)


def flush_route_publisher(**_signal: object) -> None:
    """Celery's prefork children leave through ``os._exit``, which skips the ``atexit`` flush: publish the
    route tasks a child still holds rather than leave them to the inbox sweeper (connected to
    ``worker_process_shutdown`` in rtms/apps.py)."""
    ROUTE_PUBLISHER.flush(EXIT_FLUSH_TIMEOUT_S)


# A worker that consumes a region's queue is that region's worker: an event it routes to that region is
# applied by the same task, at once, instead of being published to the queue this very worker would take it
# back from. That saves a broker round trip, a task and an attempt's reads per event (bench/recovery.py,
# docs/benchmarks.md). Workers that serve only the central queues publish as before.
_SERVED_REGIONS: frozenset[str] = frozenset()
_HELD_APPLIES: ContextVar[list[tuple[int, str]] | None] = ContextVar("held_applies", default=None)


def serve_queues(queue_names: Iterable[str]) -> None:
    """The queues this worker consumes (its ``-Q``), set once at startup before the pool forks."""
    global _SERVED_REGIONS
    _SERVED_REGIONS = frozenset(code for code in map(region_of, queue_names) if code)


def served_regions() -> frozenset[str]:
    return _SERVED_REGIONS


def worker_ready_queues(sender: object = None, instance: object = None, **_signal: object) -> None:
    """``celeryd_after_setup``: the worker's ``-Q`` is known by then (connected in rtms/apps.py)."""
    app = getattr(instance, "app", None)
    if app is not None:
        serve_queues(app.amqp.queues.consume_from.keys())


@contextmanager
def applies_held() -> Iterator[list[tuple[int, str]]]:
    """Within this block, an apply for a region this worker serves is held in the yielded list (event id,
    region) for the caller to run itself once its own step is done, instead of being published."""
    held: list[tuple[int, str]] = []
    token = _HELD_APPLIES.set(held)
    try:
        yield held
    finally:
        _HELD_APPLIES.reset(token)


def enqueue_apply(event_id: int, region_code: str) -> None:
    """After commit, on the owning region's queue (or held for this worker, ``applies_held``). A failed
    publish is left to the sweeper."""
    held = _HELD_APPLIES.get()
    if held is not None and region_code in _SERVED_REGIONS:
        held.append((event_id, region_code))
        return
    try:
        current_app.send_task(APPLY_EVENT, kwargs={"event_id": event_id}, queue=queue_for(region_code))
    except Exception as exc:  # the sweeper re-enqueues what is still pending
        logger.warning("inbox.enqueue_failed", extra={"event_id": event_id, "error": type(exc).__name__})


def enqueue_start(meeting_id: int, region_code: str, *, delay: timedelta = timedelta(0)) -> None:
    """After commit, on the owning region's queue, to run after ``delay``. A failed publish is left to the
    reconciler."""
    try:
        current_app.send_task(
            START_RTMS,
            kwargs={"meeting_id": meeting_id},
            queue=queue_for(region_code),
            countdown=delay.total_seconds() or None,
        )
    except Exception as exc:  # the reconciler restarts meetings that have no stream
        logger.warning(
            "rtms.start_enqueue_failed", extra={"meeting_id": meeting_id, "error": type(exc).__name__}
        )
