from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.utils import timezone

from rtms.leases import LeaderLease, lease_acquire, lease_held, lease_release, lease_renew
from rtms.models import Lease
from tests.eventually import eventually, eventually_async

pytestmark = pytest.mark.django_db

TTL = timedelta(seconds=30)


def test_only_one_owner_holds_a_lease() -> None:
    held = lease_acquire("events:acc", "gw-a", TTL)
    assert held is not None and held.token == 1
    assert lease_acquire("events:acc", "gw-b", TTL) is None
    assert lease_renew(held, TTL)


def test_an_expired_lease_passes_to_another_owner_with_a_higher_token() -> None:
    held = lease_acquire("events:acc", "gw-a", timedelta(milliseconds=50))
    assert held is not None
    taken = eventually(
        lambda: lease_acquire("events:acc", "gw-b", TTL), timeout=10, what="the lapsed lease taken"
    )
    assert taken is not None and taken.token == held.token + 1
    # The old holder is fenced: it can no longer renew, so it must stop acting.
    assert not lease_renew(held, TTL)


def test_release_lets_a_standby_take_over_at_once() -> None:
    held = lease_acquire("reconcile:acc", "w1", TTL)
    assert held is not None
    lease_release(held)
    assert lease_acquire("reconcile:acc", "w2", TTL) is not None


def test_leases_are_independent_by_name() -> None:
    assert lease_acquire("a", "x", TTL) is not None
    assert lease_acquire("b", "y", TTL) is not None


def test_lease_held_releases_the_lease_however_the_block_ends() -> None:
    with pytest.raises(RuntimeError), lease_held("reconcile:acc", "w1", TTL) as held:
        assert held is not None
        with lease_held("reconcile:acc", "w2", TTL) as other:
            assert other is None  # someone holds it: the caller does nothing
        raise RuntimeError("the run failed")
    with lease_held("reconcile:acc", "w2", TTL) as taken:
        assert taken is not None


def _holder(name: str) -> str:
    lease = Lease.objects.filter(name=name).first()
    return lease.owner if lease is not None and lease.expires_at > timezone.now() else ""


@pytest.mark.django_db(transaction=True)  # the leader's database calls run on another thread
async def test_a_leader_that_loses_its_lease_stops_its_work_and_leads_again_once_it_can() -> None:
    leader = LeaderLease("events:acc", "gw-a", timedelta(seconds=1.5), log_prefix="test", log_extra={})
    stop = asyncio.Event()
    runs: list[str] = []
    stopped: list[str] = []

    async def work(work_stop: asyncio.Event) -> None:
        runs.append("started")
        try:
            await work_stop.wait()
        finally:
            stopped.append("stopped")

    task = asyncio.create_task(leader.run(stop, work))
    try:
        await eventually_async(lambda: runs == ["started"], timeout=10, what="the leader's work started")
        # Another owner takes the lease over (as if ours had lapsed): our next renewal fails.
        await sync_to_async(_steal)("events:acc", "gw-b")
        await eventually_async(lambda: stopped == ["stopped"], timeout=10, what="the work stopped")
        assert await sync_to_async(_holder)("events:acc") == "gw-b"  # ours was not released over theirs
        # Once the other owner's lease lapses, this process leads again.
        await eventually_async(lambda: len(runs) == 2, timeout=15, what="leading again")
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        # On shutdown the work stops first, then the lease is released at once for a standby.
        assert stopped == ["stopped", "stopped"]
        assert await sync_to_async(_holder)("events:acc") == ""
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)
        await sync_to_async(connections.close_all)()  # asgiref's database thread, before teardown


def _steal(name: str, owner: str) -> None:
    Lease.objects.filter(name=name).update(expires_at=timezone.now())
    assert lease_acquire(name, owner, timedelta(seconds=2)) is not None
