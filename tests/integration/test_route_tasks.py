"""Route tasks on the real broker: one message per id alone, one batch message fanned out by a worker."""

from __future__ import annotations

import os

import pytest
from celery import signals

from rtms.inbox.publish import ROUTE_PUBLISHER, send_route_tasks
from rtms.tasks import route_events
from tests.support import newest_tasks, queue_length


def test_a_lone_id_is_published_as_route_event() -> None:
    before = queue_length("control")
    send_route_tasks([41])
    assert queue_length("control") == before + 1
    assert newest_tasks("control", 1) == [("rtms.route_event", {"event_id": 41})]


def test_several_ids_are_one_route_events_message_on_the_control_queue() -> None:
    before = queue_length("control")
    send_route_tasks([1, 2, 3])
    assert queue_length("control") == before + 1
    assert newest_tasks("control", 1) == [("rtms.route_events", {"event_ids": [1, 2, 3]})]


def test_the_worker_fans_a_batch_out_into_one_route_event_per_id_in_order() -> None:
    before = queue_length("control")
    assert route_events(event_ids=[5, 6, 7]) == 3
    assert queue_length("control") == before + 3
    assert newest_tasks("control", 3) == [("rtms.route_event", {"event_id": i}) for i in (5, 6, 7)]


def test_a_malformed_batch_entry_is_skipped_not_fatal() -> None:
    before = queue_length("control")
    assert route_events(event_ids=[8, "9", None, True, 10]) == 2  # type: ignore[list-item]
    assert newest_tasks("control", 2) == [("rtms.route_event", {"event_id": i}) for i in (8, 10)]
    assert queue_length("control") == before + 2


def test_the_process_publisher_reaches_the_broker() -> None:
    assert ROUTE_PUBLISHER.flush(10.0)
    before = queue_length("control")
    ROUTE_PUBLISHER.submit(99)
    assert ROUTE_PUBLISHER.flush(10.0)
    assert queue_length("control") == before + 1
    assert newest_tasks("control", 1) == [("rtms.route_event", {"event_id": 99})]


def test_a_worker_pool_child_publishes_what_it_holds_before_it_exits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Celery's prefork children leave through os._exit, which skips atexit; the pool's shutdown signal
    flushes instead (controlplane/celery.py)."""
    monkeypatch.setattr(ROUTE_PUBLISHER, "_linger_s", 3600.0)  # nothing would go out on its own
    before = queue_length("control")
    ROUTE_PUBLISHER.submit(98)
    try:
        signals.worker_process_shutdown.send(sender=None, pid=os.getpid(), exitcode=0)
        assert queue_length("control") == before + 1
        assert newest_tasks("control", 1) == [("rtms.route_event", {"event_id": 98})]
    finally:
        assert ROUTE_PUBLISHER.flush(10.0)  # never leave the shared publisher in a long linger
