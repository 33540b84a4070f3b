"""Two replicas of ``manage.py zoom_events``: exactly one holds Zoom's connection; when it dies, the other
takes over within seconds and events keep arriving."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rtms.models import InboundEvent, Lease
from tests.e2e.harness import ANY_ERROR, POLL_S, Proc, ledger, product_env, stop_all
from tests.eventually import eventually
from tests.support import sim_config
from zoomsim.testing import SimServer

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.timeout(300)]


@pytest.fixture
def sim() -> Iterator[SimServer]:  # no webhook: only the WebSocket can bring events here
    with SimServer(sim_config()) as server:
        yield server


def _holder() -> str:
    lease = Lease.objects.filter(name="events:test-account").first()
    return lease.owner if lease else ""


def test_a_standby_takes_over_when_the_leader_is_killed(sim: SimServer, residency: dict[str, str]) -> None:
    env = product_env(sim.base_url)
    a = Proc.manage("events-a", ["zoom_events"], env)
    b = Proc.manage("events-b", ["zoom_events"], env)
    procs = [a, b]
    try:
        eventually(
            lambda: ledger(sim, kind="ws.connected"),
            timeout=60,
            interval=POLL_S,
            what="first connection",
            tolerate=ANY_ERROR,
        )
        eventually(_holder, timeout=30, interval=POLL_S, what="a lease holder", tolerate=ANY_ERROR)
        assert not ledger(sim, kind="ws.kicked"), (
            "the standby must never connect while the leader holds the lease"
        )

        first = sim.client.create_meeting("anna@eu.example.com", rtms="api")["meeting_uuid"]
        eventually(
            lambda: InboundEvent.objects.filter(dedupe_key__contains=first).exists(),
            timeout=60,
            interval=POLL_S,
            what="event stored",
            tolerate=ANY_ERROR,
        )

        holder = _holder()
        leader = a if f":{a.popen.pid}:" in holder else b
        standby = b if leader is a else a
        connections_before = len(ledger(sim, kind="ws.connected"))
        leader.kill9()
        eventually(
            lambda: len(ledger(sim, kind="ws.connected")) > connections_before,
            timeout=60,
            interval=POLL_S,
            what="standby connected",
            tolerate=ANY_ERROR,
        )
        assert f":{standby.popen.pid}:" in _holder()

        second = sim.client.create_meeting("ben@us.example.com", rtms="api")["meeting_uuid"]
        eventually(
            lambda: InboundEvent.objects.filter(dedupe_key__contains=second).exists(),
            timeout=60,
            interval=POLL_S,
            what="event stored after takeover",
            tolerate=ANY_ERROR,
        )
        assert not ledger(sim, kind="ws.kicked"), "two holders fought over the subscription"
    finally:
        stop_all(procs)


def test_sigterm_closes_the_connection_and_releases_the_lease(
    sim: SimServer, residency: dict[str, str]
) -> None:
    proc = Proc.manage("events-term", ["zoom_events"], product_env(sim.base_url))
    try:
        eventually(
            lambda: ledger(sim, kind="ws.connected"),
            timeout=60,
            interval=POLL_S,
            what="connected",
            tolerate=ANY_ERROR,
        )
        eventually(_holder, timeout=30, interval=POLL_S, what="lease held", tolerate=ANY_ERROR)
        assert proc.stop() == 0
        lease = Lease.objects.get(name="events:test-account")
        from django.utils import timezone

        assert lease.expires_at <= timezone.now()
    finally:
        stop_all([proc])
