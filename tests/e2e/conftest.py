from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from regions.models import Region, ResidencyRule
from rtms.models import ZoomAccount
from tests.e2e.harness import (
    ARTIFACTS,
    PrivateRedis,
    Proc,
    flush_e2e_redis,
    product_env,
    start_web,
    start_worker,
    stop_all,
)
from tests.e2e.test_gateway import FAST_SIM_SCALE
from tests.support import sim_config
from zoomsim.testing import SimServer

REGION_DOMAINS = {
    "eu-central": "eu.example.com",
    "us-east": "us.example.com",
    "ap-southeast": "ap.example.com",
}


@pytest.fixture
def residency() -> dict[str, str]:
    """Three regions with a host-domain rule each, committed so the processes see them."""
    for position, (code, domain) in enumerate(REGION_DOMAINS.items(), start=1):
        region, _ = Region.objects.get_or_create(code=code, defaults={"name": code, "jurisdiction": code})
        ResidencyRule.objects.update_or_create(
            position=position * 10, defaults={"field": "host_email_domain", "value": domain, "region": region}
        )
    ZoomAccount.objects.update_or_create(
        zoom_account_id="test-account", defaults={"mode": "api", "active": True}
    )
    return REGION_DOMAINS


SimEnvProcs = tuple[SimServer, dict[str, str], list[Proc]]
WORKER_QUEUES = ["control", "reconcile", "region.eu-central", "region.us-east", "region.ap-southeast"]


@pytest.fixture
def own_broker_base(residency: dict[str, str], request: pytest.FixtureRequest) -> Iterator[SimEnvProcs]:
    """zoomsim on the fast scale, daphne and a worker, with a broker of the test's own (not the shared e2e
    Redis database), so a concurrent e2e run elsewhere can neither consume these tasks nor flush them. The
    test adds its gateways (and whatever else) to the list it is given; all are stopped at the end."""
    broker = PrivateRedis().start()
    procs: list[Proc] = []
    try:
        with SimServer(sim_config(time_scale=FAST_SIM_SCALE)) as sim:
            env = product_env(sim.base_url, REDIS_URL=broker.url)
            try:
                web, url = start_web(env)
                slug = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name.removeprefix("test_")).strip("-")
                worker = start_worker(env, WORKER_QUEUES, name=f"worker-{slug[:16]}-{slug[-16:]}")  # its log
                procs += [web, worker]
                sim.client.set_webhook_url(f"{url}/zoom/webhook")
                yield sim, env, procs
            finally:
                stop_all(procs)
    finally:
        broker.stop()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A Redis server of the test's own (a broker no concurrent run shares, one the test may kill)."""
    server = PrivateRedis().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _clean_broker() -> Iterator[None]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    flush_e2e_redis()
    yield
    flush_e2e_redis()


def pytest_collection_modifyitems(items: list[Any]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
