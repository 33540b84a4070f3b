"""A worker that stops consuming restarts itself and takes the waiting work.

The stall is made on purpose with Celery's remote control (``cancel_consumer``): the worker is connected
and healthy but no longer reads its queue, which is what a worker looks like after kombu failed to recover
from a broker restart.
"""

from __future__ import annotations

import pytest
import redis
from celery import Celery

from tests.e2e.harness import E2E_REDIS_URL, product_env, start_worker, stop_all, wait_until

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.timeout(180)]


def test_a_worker_that_stops_consuming_restarts_and_drains_its_queue() -> None:
    env = product_env("http://127.0.0.1:9", WORKER_STALL_AFTER_SECONDS="2")
    worker = start_worker(env, ["control"], name="watchdog")
    # Not the current app: shared tasks published later in this test process must keep the product's broker.
    control = Celery(broker=E2E_REDIS_URL, set_as_current=False)
    broker = redis.Redis.from_url(E2E_REDIS_URL)
    try:
        wait_until(lambda: "worker.watchdog_started" in worker.log(), timeout=60, what="worker ready")
        replies = control.control.cancel_consumer("control", reply=True, timeout=5)
        assert replies, "the worker acknowledged the cancel"

        for _ in range(3):
            control.send_task("rtms.sweep_inbox", queue="control")
        wait_until(lambda: "worker.stalled" in worker.log(), timeout=60, what="the stall noticed")
        wait_until(
            lambda: worker.log().count("worker.watchdog_started") >= 2,
            timeout=90,
            what="the worker restarted in place",
        )
        wait_until(lambda: broker.llen("control") == 0, timeout=60, what="waiting work taken")
        assert worker.alive(), "restarted in place (same process), not exited"
    finally:
        broker.close()
        control.close()
        stop_all([worker])
