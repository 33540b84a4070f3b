"""The broker restarts mid-run and loses every queued task: the inbox, not the broker, is the source of
truth, so the sweeper re-enqueues what was pending and no event is lost."""

from __future__ import annotations

import pytest

from rtms.models import InboundEvent, Meeting
from tests.e2e.harness import (
    ANY_ERROR,
    POLL_S,
    PrivateRedis,
    Proc,
    ledger,
    product_env,
    start_beat,
    start_web,
    start_worker,
    stop_all,
)
from tests.eventually import eventually
from tests.support import sim_config
from zoomsim.testing import SimServer

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.timeout(420)]

QUEUES = ["control", "reconcile", "region.eu-central", "region.us-east", "region.ap-southeast"]


def _all_applied(uuids: list[str]) -> bool:
    meetings = Meeting.objects.filter(zoom_uuid__in=uuids, region__isnull=False)
    if meetings.count() != len(uuids):
        return False
    # Every inbox row, routed or not: the reconciler may create a meeting whose events are still pending,
    # and only the inbox being drained proves no event was lost.
    return not InboundEvent.objects.filter(status="pending").exists()


def test_no_event_is_lost_when_redis_restarts(private_redis: PrivateRedis, residency: dict[str, str]) -> None:
    domains = list(residency.values())
    with SimServer(sim_config()) as sim:
        env = product_env(sim.base_url, REDIS_URL=private_redis.url)
        procs: list[Proc] = []
        try:
            web, base = start_web(env)
            procs += [
                web,
                start_worker(env, QUEUES),
                start_beat(env),
                Proc.manage("events", ["zoom_events"], env),
            ]
            sim.client.set_webhook_url(f"{base}/zoom/webhook")
            eventually(
                lambda: ledger(sim, kind="ws.connected"),
                timeout=60,
                interval=POLL_S,
                what="event subscriber connected",
                tolerate=ANY_ERROR,
            )

            def start_meetings(n: int, offset: int) -> list[str]:
                hosts = [f"h{offset + i}@{domains[(offset + i) % len(domains)]}" for i in range(n)]
                return [sim.client.create_meeting(h, rtms="api")["meeting_uuid"] for h in hosts]

            before = start_meetings(5, 0)
            eventually(
                lambda: _all_applied(before),
                timeout=120,
                interval=0.5,
                what="first meetings applied",
                tolerate=ANY_ERROR,
            )

            # Redis dies with whatever was queued or unacknowledged; events keep arriving meanwhile.
            private_redis.kill()
            during = start_meetings(5, 5)
            producers = [p for p in procs if p.name in ("web", "events")]
            eventually(
                lambda: (
                    InboundEvent.objects.filter(dedupe_key__startswith="meeting.started").count() >= 10
                    and any("inbox.enqueue_failed" in p.log() for p in producers)
                ),
                timeout=60,
                interval=POLL_S,
                what="events stored while the broker is down",
                tolerate=ANY_ERROR,
            )
            private_redis.start()  # back, and empty
            after = start_meetings(5, 10)
            uuids = before + during + after
            eventually(
                lambda: _all_applied(uuids),
                timeout=240,
                interval=0.5,
                what="every event applied",
                tolerate=ANY_ERROR,
            )
            assert any("inbox.swept" in p.log() for p in procs if p.name == "worker"), (
                "the sweeper did the work"
            )
            assert InboundEvent.objects.filter(status="failed").count() == 0
        finally:
            stop_all(procs)
