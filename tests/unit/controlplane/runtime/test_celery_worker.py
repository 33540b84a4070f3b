"""What the worker watchdog (controlplane/runtime/celery_worker.py) assumes of Celery and kombu, and that
it does not start on other versions."""

from __future__ import annotations

import importlib
import inspect
import weakref
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from celery import platforms
from celery.worker import state
from kombu.transport import redis as kombu_redis

from controlplane.runtime import celery_worker
from controlplane.runtime.celery_worker import queue_keys
from tests.unit.controlplane.runtime.conftest import SkippedEvents


def test_the_waiting_count_reads_every_list_kombu_keeps_for_a_queue() -> None:
    channel: Any = kombu_redis.Channel.__new__(kombu_redis.Channel)  # only its key naming, no connection
    assert queue_keys("control") == [channel._q_for_pri("control", p) for p in kombu_redis.PRIORITY_STEPS]


def test_the_worker_state_read_and_set_by_the_watchdog_exists() -> None:
    assert isinstance(state.reserved_requests, weakref.WeakSet)  # the requests waiting for a pool slot
    assert "should_stop" in vars(state)
    assert callable(platforms.close_open_fds)


def test_the_restart_in_place_is_what_celerys_sighup_handler_does() -> None:
    celery_apps_worker = importlib.import_module("celery.apps.worker")
    source = inspect.getsource(celery_apps_worker.install_worker_restart_handler)
    assert "atexit.register(_reload_current_worker)" in source
    assert "state.should_stop = EX_OK" in source
    assert "platforms.close_open_fds(" in inspect.getsource(celery_apps_worker._reload_current_worker)


def _consumer() -> Any:
    app = SimpleNamespace(
        amqp=SimpleNamespace(queues=SimpleNamespace(consume_from={"control": object()})),
        conf=SimpleNamespace(broker_url="redis://127.0.0.1:9/0"),
    )
    return SimpleNamespace(app=app, controller=SimpleNamespace(concurrency=2))


def test_no_watchdog_starts_and_the_skip_is_logged_when_celery_or_kombu_is_another_version(
    on_other_versions: SkippedEvents, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.WORKER_STALL_AFTER = timedelta(seconds=30)  # on
    monkeypatch.setattr(celery_worker, "_watchdog", None)
    celery_worker.on_worker_ready(_consumer())
    assert celery_worker._watchdog is None
    assert on_other_versions() == [
        {"patch": "celery_worker", "library": "celery", "found": "0.0", "expected": "5.7"},
        {"patch": "celery_worker", "library": "kombu", "found": "0.0", "expected": "5.7"},
    ]
