from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connections, transaction
from django.utils import timezone

from rtms.leases import (
    HeldLease,
    LeaderLease,
    LeaseLost,
    lease_acquire,
    lease_fence,
    lease_held,
    lease_kept,
    lease_owner,
    lease_release,
    lease_renew,
)
from rtms.liveness import _identity
from rtms.management.commands.zoom_events import _ingest_while_leading
from rtms.models import InboundEvent, Lease
from tests.eventually import eventually, eventually_async
from tests.support import event_body, meeting_payload

pytestmark = pytest.mark.django_db

TTL = timedelta(seconds=30)


def test_only_one_owner_holds_a_lease() -> None:
    held = lease_acquire("events:acc", "gw-a", TTL)
    assert held is not None and held.token == 1
    assert lease_acquire("events:acc", "gw-b", TTL) is None
    assert lease_renew(held, TTL)


def test_a_lease_whose_holder_died_on_this_machine_passes_on_at_once() -> None:
    """A killed process's lease is taken without waiting out its TTL (rtms/liveness.py); a living
    holder's, or one that cannot be judged, is not."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead_owner = ":".join([socket.gethostname(), str(child.pid), "worker", _identity(child.pid)])
        assert lease_acquire("reconcile:acc", dead_owner, TTL) is not None
        assert lease_acquire("reconcile:acc", lease_owner("standby"), TTL) is None  # alive: it may act
    finally:
        child.kill()
        child.wait()
    taken = lease_acquire("reconcile:acc", lease_owner("standby"), TTL)
    assert taken is not None and taken.token == 2
    assert lease_acquire("reconcile:acc", lease_owner("third"), TTL) is None  # the new holder lives
    assert lease_acquire("events:acc", "other-host:1:x", TTL) is not None
    assert lease_acquire("events:acc", lease_owner("standby"), TTL) is None  # another host: the TTL rule


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

    async def work(work_stop: asyncio.Event, held: HeldLease) -> None:
        assert held.name == "events:acc" and held.owner == "gw-a"
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


def test_a_write_fenced_by_a_lease_is_made_only_while_the_lease_is_ours() -> None:
    held = lease_acquire("events:acc", "gw-a", TTL)
    assert held is not None
    with transaction.atomic():
        lease_fence(held)  # ours: the write may go ahead
    Lease.objects.filter(name="events:acc").update(expires_at=timezone.now())
    with pytest.raises(LeaseLost), transaction.atomic():
        lease_fence(held)  # lapsed, though nobody took it yet
    taken = lease_acquire("events:acc", "gw-b", TTL)
    assert taken is not None
    with pytest.raises(LeaseLost), transaction.atomic():
        lease_fence(held)  # passed on: the old token never writes again
    with transaction.atomic():
        lease_fence(taken)


@pytest.mark.django_db(transaction=True)  # outside any transaction, as a caller who forgot atomic() is
def test_a_lease_fence_outside_a_transaction_is_a_programming_error() -> None:
    held = lease_acquire("events:acc", "gw-a", TTL)
    assert held is not None
    with pytest.raises(RuntimeError, match="inside atomic"):
        lease_fence(held)


def test_the_event_subscriber_stores_an_event_only_while_it_leads() -> None:
    held = lease_acquire("events:test-account", "sub-a", TTL)
    assert held is not None

    def body(n: int) -> dict[str, object]:
        return event_body(
            "meeting.started", meeting_payload(f"fenced-{n}==", 900 + n), event_ts=1_760_000_000_000 + n
        )

    _ingest_while_leading(held, body(1), source_account_pk=None)
    Lease.objects.filter(name=held.name).update(expires_at=timezone.now())
    assert lease_acquire(held.name, "sub-b", TTL) is not None  # a paused leader's lease passed on
    with pytest.raises(LeaseLost):
        _ingest_while_leading(held, body(2), source_account_pk=None)
    stored = set(InboundEvent.objects.values_list("meeting_uuid", flat=True))
    assert stored == {"fenced-1=="}, "the event read after the lease passed on is not stored"


@pytest.mark.django_db(transaction=True)  # the renewals run on a thread of their own, with its own connection
def test_a_kept_lease_outlives_its_ttl_while_its_block_runs_and_says_when_it_is_lost() -> None:
    ttl, beat = timedelta(seconds=0.6), timedelta(seconds=0.2)
    with lease_kept("reconcile:acc", "worker-a", ttl, renew_every=beat) as kept:
        assert kept is not None
        time.sleep(3 * ttl.total_seconds())  # a run longer than the TTL: watched for three TTLs
        assert lease_acquire("reconcile:acc", "worker-b", ttl) is None, "renewed: still ours"
        assert not kept.lost.is_set()
        _steal("reconcile:acc", "worker-b")  # as if ours had lapsed under a long database outage
        eventually(kept.lost.is_set, timeout=10, what="the holder told its lease is gone")
    assert _holder("reconcile:acc") == "worker-b", "ours was not released over theirs"
    with lease_kept("reconcile:acc", "worker-c", ttl, renew_every=beat) as other:
        assert other is None, "held by worker-b"
    connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_a_kept_lease_is_released_when_its_block_ends() -> None:
    ttl, beat = timedelta(seconds=30), timedelta(seconds=10)
    with lease_kept("reconcile:acc", "worker-a", ttl, renew_every=beat) as kept:
        assert kept is not None
    assert lease_acquire("reconcile:acc", "worker-b", ttl) is not None, "free at once, not after 30 s"
