"""Leases judged by the database clock, so processes on hosts with drifting clocks agree on who holds what.

Times come from clock_timestamp(), not now(): now() is frozen at the start of a transaction.
A holder renews well before expiry; one that cannot renew must stop acting (close its sockets) before the
lease can pass to another process. ``token`` increases whenever the lease changes hands (fencing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.db import DatabaseError, connection, connections

from rtms.asyncdb import db
from rtms.liveness import holder_dead, process_identity

logger = logging.getLogger(__name__)


def lease_owner(*qualifiers: str) -> str:
    """Who holds a lease, as its row and the logs show it: ``host:pid``, then whatever tells this holder
    from others in the same process (a thread, a random tag for a process that may restart its work), then
    the process's identity, by which a successor on this machine can prove it dead (rtms/liveness.py)."""
    return ":".join([socket.gethostname(), str(os.getpid()), *qualifiers, process_identity()])


@dataclass(frozen=True)
class HeldLease:
    name: str
    owner: str
    token: int


_ACQUIRE = """
INSERT INTO rtms_lease (name, owner, token, expires_at, acquired_at, renewed_at)
VALUES (%(name)s, %(owner)s, 1, clock_timestamp() + make_interval(secs => %(ttl)s),
        clock_timestamp(), clock_timestamp())
ON CONFLICT (name) DO UPDATE
   SET owner = EXCLUDED.owner,
       token = rtms_lease.token + 1,
       expires_at = EXCLUDED.expires_at,
       acquired_at = clock_timestamp(),
       renewed_at = clock_timestamp()
 WHERE rtms_lease.expires_at <= clock_timestamp() OR rtms_lease.owner = %(dead)s
RETURNING token
"""

_HOLDER = "SELECT owner FROM rtms_lease WHERE name = %(name)s AND expires_at > clock_timestamp()"

_RENEW = """
UPDATE rtms_lease
   SET expires_at = clock_timestamp() + make_interval(secs => %(ttl)s), renewed_at = clock_timestamp()
 WHERE name = %(name)s AND owner = %(owner)s AND token = %(token)s AND expires_at > clock_timestamp()
"""

_RELEASE = """
UPDATE rtms_lease SET expires_at = clock_timestamp()
 WHERE name = %(name)s AND owner = %(owner)s AND token = %(token)s
"""


def lease_acquire(name: str, owner: str, ttl: timedelta) -> HeldLease | None:
    """Take the lease if it is free, expired, or held by a process of this machine that has died
    (rtms/liveness.py). None when someone else holds it."""
    params: dict[str, str | float | None] = {
        "name": name,
        "owner": owner,
        "ttl": ttl.total_seconds(),
        "dead": None,
    }
    with connection.cursor() as cursor:
        cursor.execute(_ACQUIRE, params)
        row = cursor.fetchone()
        if row is None:
            cursor.execute(_HOLDER, {"name": name})
            holder = cursor.fetchone()
            if holder is not None and holder_dead(str(holder[0])):
                # Only that holder's lease: one that changed hands meanwhile is not taken.
                cursor.execute(_ACQUIRE, {**params, "dead": str(holder[0])})
                row = cursor.fetchone()
                if row is not None:
                    logger.info("lease.dead_holder_replaced", extra={"lease": name, "holder": holder[0]})
    return None if row is None else HeldLease(name=name, owner=owner, token=int(row[0]))


def lease_renew(held: HeldLease, ttl: timedelta) -> bool:
    """Extend a lease we still hold. False means it expired or changed hands: stop acting on it now."""
    with connection.cursor() as cursor:
        cursor.execute(
            _RENEW, {"name": held.name, "owner": held.owner, "token": held.token, "ttl": ttl.total_seconds()}
        )
        return bool(cursor.rowcount == 1)


_STILL_HELD = """
SELECT 1 FROM rtms_lease
 WHERE name = %(name)s AND owner = %(owner)s AND token = %(token)s AND expires_at > clock_timestamp()
   FOR SHARE
"""


class LeaseLost(Exception):
    """The lease a write was fenced by is no longer ours: the write was not made."""


def lease_fence(held: HeldLease) -> None:
    """Inside a transaction, before a write made on the strength of ``held``: raises LeaseLost unless the
    lease is still ours and unexpired, and keeps it locked until commit, so nobody can take it over
    between this check and the write (fencing by token)."""
    if not connection.in_atomic_block:
        raise RuntimeError("lease_fence guards a write in the same transaction: call it inside atomic()")
    with connection.cursor() as cursor:
        cursor.execute(_STILL_HELD, {"name": held.name, "owner": held.owner, "token": held.token})
        if cursor.fetchone() is None:
            raise LeaseLost(held.name)


def lease_release(held: HeldLease) -> None:
    """Expire our lease at once so a standby can take over without waiting for the TTL."""
    with connection.cursor() as cursor:
        cursor.execute(_RELEASE, {"name": held.name, "owner": held.owner, "token": held.token})


@contextlib.contextmanager
def lease_held(name: str, owner: str, ttl: timedelta) -> Iterator[HeldLease | None]:
    """``with lease_held(...) as held:`` for one bounded piece of work: ``held`` is None when someone else
    holds the lease; ours is released when the block ends, however it ends."""
    held = lease_acquire(name, owner, ttl)
    try:
        yield held
    finally:
        if held is not None:
            lease_release(held)


@dataclass
class KeptLease:
    held: HeldLease
    lost: threading.Event  # set once a renewal found the lease gone: the holder should stop soon


@contextlib.contextmanager
def lease_kept(
    name: str, owner: str, ttl: timedelta, *, renew_every: timedelta
) -> Iterator[KeptLease | None]:
    """``lease_held`` for a block that may outlive ``ttl``: a thread renews the lease every ``renew_every``
    while the block runs, so the TTL can stay short. A holder that dies (SIGKILL, a lost host) then frees
    the lease within one TTL, not within the longest the work could take. ``None`` when someone else holds
    it; released when the block ends."""
    held = lease_acquire(name, owner, ttl)
    if held is None:
        yield None
        return
    kept = KeptLease(held, threading.Event())
    done = threading.Event()

    def renew() -> None:
        try:
            while not done.wait(renew_every.total_seconds()):
                try:
                    renewed = lease_renew(held, ttl)
                except DatabaseError as exc:
                    logger.warning("lease.renew_failed", extra={"lease": name, "error": type(exc).__name__})
                    continue  # the next period tries again; the TTL is three periods
                if not renewed:
                    logger.warning("lease.lost", extra={"lease": name, "token": held.token})
                    kept.lost.set()
                    return
        finally:
            connections.close_all()  # this thread's own connection

    renewer = threading.Thread(target=renew, name=f"lease-{name}", daemon=True)
    renewer.start()
    try:
        yield kept
    finally:
        done.set()
        renewer.join(timeout=renew_every.total_seconds() + 5)
        with contextlib.suppress(DatabaseError):
            lease_release(held)


# The leader's work: told to stop by the event, given the lease it runs under (to fence its writes).
Work = Callable[[asyncio.Event, HeldLease], Coroutine[object, object, None]]


@dataclass(frozen=True)
class LeaderLease:
    """Leader election for a long-running asyncio process: ``work`` runs only while this process holds
    lease ``name``, and several replicas may run the same loop.

    A standby polls every third of the TTL. The leader renews every third of the TTL and gives a renewal at
    most until half the TTL has passed since the last one; a renewal it cannot make ends its work *before*
    the lease can expire, because the next leader's connection would otherwise meet ours (Zoom lets a
    second connection kick the first). The work is asked to stop (its event set), then cancelled, and only
    after that is the lease released (on shutdown) or left to lapse (when lost). Logs
    ``<log_prefix>.leader_acquired`` / ``.lease_lost`` / ``.lease_error`` / ``.leader_released`` with
    ``log_extra``.
    """

    name: str
    owner: str
    ttl: timedelta
    log_prefix: str
    log_extra: Mapping[str, object]

    async def run(self, stop: asyncio.Event, work: Work) -> None:
        """Until ``stop`` is set: wait to lead, lead while the lease holds, then wait again."""
        while not stop.is_set():
            try:
                held: HeldLease | None = await db(lease_acquire)(self.name, self.owner, self.ttl)
            except DatabaseError as exc:
                self._log("lease_error", logging.WARNING, error=type(exc).__name__)
                held = None
            if held is None:
                await self._wait(stop, self._period_s)
                continue
            await self._lead(held, stop, work)

    @property
    def _period_s(self) -> float:
        return self.ttl.total_seconds() / 3

    async def _lead(self, held: HeldLease, stop: asyncio.Event, work: Work) -> None:
        self._log("leader_acquired", logging.INFO, token=held.token)
        work_stop = asyncio.Event()
        task = asyncio.create_task(work(work_stop, held), name=f"lead-{self.name}")
        last_renewed = time.monotonic()
        try:
            while not stop.is_set() and not task.done():
                await self._wait(stop, self._period_s, also=task)
                if stop.is_set() or task.done():
                    break
                budget = self.ttl.total_seconds() / 2 - (time.monotonic() - last_renewed)
                try:
                    renewed = budget > 0 and await asyncio.wait_for(db(lease_renew)(held, self.ttl), budget)
                except (TimeoutError, DatabaseError):
                    renewed = False
                if not renewed:
                    self._log("lease_lost", logging.WARNING, token=held.token)
                    return
                last_renewed = time.monotonic()
        finally:
            # The work (and its sockets) ends first; only then may the lease pass to someone else.
            work_stop.set()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if stop.is_set():
                with contextlib.suppress(DatabaseError):
                    await db(lease_release)(held)
            self._log("leader_released", logging.INFO)

    @staticmethod
    async def _wait(stop: asyncio.Event, timeout_s: float, *, also: asyncio.Task[None] | None = None) -> None:
        waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(stop.wait())]
        if also is not None:
            waiters.append(also)  # type: ignore[arg-type]
        try:
            await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiters[0].cancel()

    def _log(self, event: str, level: int, **fields: object) -> None:
        logger.log(level, f"{self.log_prefix}.{event}", extra={**self.log_extra, **fields})
