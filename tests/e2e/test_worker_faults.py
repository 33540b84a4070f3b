"""Workers under the faults production brings (issue #21): one killed with SIGKILL in the middle of an RTMS
start, and one whose start outlives the broker's visibility timeout, so the broker hands the same task to
another worker process while the first still runs it. Either way Zoom is asked to start the stream once,
and the meeting has one stream, captured."""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from rtms.models import InboundEvent, Meeting, RtmsStream
from tests.e2e.harness import (
    ANY_ERROR,
    POLL_S,
    PrivateRedis,
    Proc,
    ledger,
    product_env,
    start_web,
    start_worker,
    stop_all,
)
from tests.e2e.test_gateway import FAST_SIM_SCALE, _script, _stored
from tests.eventually import eventually
from tests.support import sim_config
from zoomsim.testing import SimServer

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.timeout(240)]

QUEUES = ["control", "reconcile", "region.eu-central", "region.us-east", "region.ap-southeast"]
EU_ALIAS = "region_eu_central"
RTMS_STATUS = "/v2/live_meetings/"


def _starts(sim: SimServer) -> list[dict[str, Any]]:
    return [
        c
        for c in ledger(sim, kind="rest.call")
        if c["path"].startswith(RTMS_STATUS) and c.get("action") == "start"
    ]


def _stops(sim: SimServer) -> list[dict[str, Any]]:
    return [
        c
        for c in ledger(sim, kind="rest.call")
        if c["path"].startswith(RTMS_STATUS) and c.get("action") == "stop"
    ]


def _redelivered_starts(log: str) -> list[str]:
    """Ids of start tasks the worker received more than once (Celery logs each delivery)."""
    received = Counter(re.findall(r"Task rtms\.start_rtms\[([0-9a-f-]+)\] received", log))
    return [task_id for task_id, n in received.items() if n > 1]


def _meeting(sim: SimServer) -> str:
    return str(
        sim.client.create_meeting(
            "anna@eu.example.com",
            rtms="api",
            transcript=_script(300, "worker"),
            segment_interval_ms=1000,
            speak_from="first_client",
        )["meeting_uuid"]
    )


def _captured_once(sim: SimServer, uuid: str) -> None:
    eventually(
        lambda: len(_stored(EU_ALIAS, uuid)) >= 3,
        timeout=120,
        interval=0.3,
        what="the meeting captured",
        tolerate=ANY_ERROR,
    )
    assert len(sim.client.get_meeting(uuid)["streams"]) == 1, "Zoom started one stream"
    assert RtmsStream.objects.filter(meeting__zoom_uuid=uuid).count() == 1
    assert Meeting.objects.filter(zoom_uuid=uuid).count() == 1
    assert [c["status"] for c in _starts(sim) if c["status"] < 500] == [204], "one start reached Zoom"
    assert not _stops(sim), "no stop: the start never met a stream of its own"
    eventually(
        lambda: not InboundEvent.objects.filter(status="pending").exists(),
        timeout=60,
        interval=0.3,
        what="inbox drained",
    )
    assert not InboundEvent.objects.filter(status="failed").exists()


System = tuple[SimServer, dict[str, str], Proc, list[Proc]]


@contextlib.contextmanager
def _system(broker: PrivateRedis, tag: str, **extra_env: str) -> Iterator[System]:
    """zoomsim on the fast scale, daphne, a worker (given back, to kill or read) and the EU gateway; what
    the test adds to ``procs`` is stopped with them."""
    with SimServer(sim_config(time_scale=FAST_SIM_SCALE)) as sim:
        env = product_env(sim.base_url, REDIS_URL=broker.url, **extra_env)
        procs: list[Proc] = []
        try:
            web, url = start_web(env)
            worker = start_worker(env, QUEUES, name=f"worker-{tag}")
            procs += [
                web,
                worker,
                Proc.manage(f"gateway-{tag}", ["rtms_gateway", "--region", "eu-central"], env),
            ]
            sim.client.set_webhook_url(f"{url}/zoom/webhook")
            yield sim, env, worker, procs
        finally:
            stop_all(procs)


def test_a_worker_killed_mid_start_has_the_task_redelivered_and_applied_once(
    residency: dict[str, str], private_redis: PrivateRedis
) -> None:
    with _system(private_redis, "killed") as (sim, env, killed, procs):
        # Zoom hangs on the start: the worker is inside the call when it is killed.
        sim.client.rest_fault("timeout", path_prefix=RTMS_STATUS, method="PATCH", times=1)
        uuid = _meeting(sim)
        eventually(
            lambda: [f for f in ledger(sim, kind="fault.applied") if f.get("channel") == "rest"],
            timeout=60,
            interval=POLL_S,
            what="the start under way",
            tolerate=ANY_ERROR,
        )
        killed.kill9()
        procs.append(start_worker(env, QUEUES, name="worker-after-kill"))
        _captured_once(sim, uuid)


def test_a_start_outliving_the_visibility_timeout_is_not_doubled(
    residency: dict[str, str], private_redis: PrivateRedis
) -> None:
    # The fast profile's visibility timeout is 10 s; the start call takes 15 s (75 simulated seconds), and
    # the worker waits for it (its HTTP timeout raised to 20 s).
    with _system(private_redis, "slow-start", ZOOM_HTTP_TIMEOUT_SECONDS="20") as (sim, _env, worker, _procs):
        sim.client.rest_fault("delay", path_prefix=RTMS_STATUS, method="PATCH", delay_s=75, times=1)
        uuid = _meeting(sim)
        eventually(
            lambda: _redelivered_starts(worker.log()),
            timeout=60,
            interval=0.3,
            what="the broker delivered the start again while it still ran",
        )
        eventually(
            lambda: [c for c in _starts(sim) if c.get("fault_rule")],
            timeout=60,
            interval=0.3,
            what="Zoom answered the slow start",
            tolerate=ANY_ERROR,
        )
        _captured_once(sim, uuid)
        assert "rtms.start_in_flight" in worker.log(), "the second run waited for the first"
