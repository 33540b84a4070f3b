"""A worker that stops consuming restarts itself and takes the waiting work.

The stall is made on purpose with Celery's remote control (``cancel_consumer``): the worker is connected
and healthy but no longer reads its queue, which is what a worker looks like after kombu failed to recover
from a broker restart.
"""

from __future__ import annotations

import pytest
import redis
from celery import Celery

from tests.e2e.harness import ANY_ERROR, E2E_REDIS_URL, POLL_S, product_env, start_worker, stop_all
from tests.eventually import eventually

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.timeout(180)]


def test_a_worker_that_stops_consuming_restarts_and_drains_its_queue() -> None:
    env = product_env("http://127.0.0.1:9", WORKER_STALL_AFTER_SECONDS="2")
    worker = start_worker(env, ["control"], name="watchdog")
    # Not the current app: shared tasks published later in this test process must keep the product's broker.
    control = Celery(broker=E2E_REDIS_URL, set_as_current=False)
    broker = redis.Redis.from_url(E2E_REDIS_URL)
    try:
        eventually(
            lambda: "worker.watchdog_started" in worker.log(),
            timeout=60,
            interval=POLL_S,
            what="worker ready",
            tolerate=ANY_ERROR,
        )
        replies = control.control.cancel_consumer("control", reply=True, timeout=5)
        assert replies, "the worker acknowledged the cancel"

        for _ in range(3):
            control.send_task("rtms.sweep_inbox", queue="control")
        eventually(
            lambda: "worker.stalled" in worker.log(),
            timeout=60,
            interval=POLL_S,
            what="the stall noticed",
            tolerate=ANY_ERROR,
        )
        eventually(
            lambda: worker.log().count("worker.watchdog_started") >= 2,
            timeout=90,
            interval=POLL_S,
            what="the worker restarted in place",
            tolerate=ANY_ERROR,
        )
        eventually(
            lambda: broker.llen("control") == 0,
            timeout=60,
            interval=POLL_S,
            what="waiting work taken",
            tolerate=ANY_ERROR,
        )
        assert worker.alive(), "restarted in place (same process), not exited"
    finally:
        broker.close()
        control.close()
        stop_all([worker])
