"""Leases judged by the database clock, so processes on hosts with drifting clocks agree on who holds what.

Times come from clock_timestamp(), not now(): now() is frozen at the start of a transaction.
A holder renews well before expiry; one that cannot renew must stop acting (close its sockets) before the
lease can pass to another process. ``token`` increases whenever the lease changes hands (fencing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import connection


@dataclass(frozen=True)
class Held:
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
 WHERE rtms_lease.expires_at <= clock_timestamp()
RETURNING token
"""

_RENEW = """
UPDATE rtms_lease
   SET expires_at = clock_timestamp() + make_interval(secs => %(ttl)s), renewed_at = clock_timestamp()
 WHERE name = %(name)s AND owner = %(owner)s AND token = %(token)s AND expires_at > clock_timestamp()
"""

_RELEASE = """
UPDATE rtms_lease SET expires_at = clock_timestamp()
 WHERE name = %(name)s AND owner = %(owner)s AND token = %(token)s
"""


def lease_acquire(name: str, owner: str, ttl: timedelta) -> Held | None:
    """Take the lease if it is free or expired. None when someone else holds it."""
    with connection.cursor() as cursor:
        cursor.execute(_ACQUIRE, {"name": name, "owner": owner, "ttl": ttl.total_seconds()})
        row = cursor.fetchone()
    return None if row is None else Held(name=name, owner=owner, token=int(row[0]))


def lease_renew(held: Held, ttl: timedelta) -> bool:
    """Extend a lease we still hold. False means it expired or changed hands: stop acting on it now."""
    with connection.cursor() as cursor:
        cursor.execute(
            _RENEW, {"name": held.name, "owner": held.owner, "token": held.token, "ttl": ttl.total_seconds()}
        )
        return bool(cursor.rowcount == 1)


def lease_release(held: Held) -> None:
    """Expire our lease at once so a standby can take over without waiting for the TTL."""
    with connection.cursor() as cursor:
        cursor.execute(_RELEASE, {"name": held.name, "owner": held.owner, "token": held.token})
