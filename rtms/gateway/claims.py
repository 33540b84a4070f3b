"""Stream leases for gateways, judged by the database clock.

A gateway claims streams of its region that nobody holds (``wanted`` ones, or active ones whose holder's
lease lapsed) with ``FOR UPDATE SKIP LOCKED``, so concurrent gateways never block on or share a stream.
Every claim bumps ``lease_token``; renewals and releases name the token they hold, so a gateway whose
lease passed to another can never extend or release the new holder's lease (fencing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection

from rtms.lifecycle import STREAM_ACTIVE


@dataclass(frozen=True)
class Claim:
    stream_id: int
    rtms_stream_id: str
    meeting_id: int
    server_urls: tuple[str, ...]
    server_generation: int
    lease_token: int
    state: str


_ACTIVE = sorted(str(s) for s in STREAM_ACTIVE)

_CLAIM = """
WITH candidates AS (
    SELECT id FROM rtms_rtmsstream
     WHERE region_id = %(region_id)s
       AND state = ANY(%(states)s)
       AND (lease_expires_at IS NULL OR lease_expires_at <= clock_timestamp())
     ORDER BY created_at, id
     LIMIT %(limit)s
     FOR UPDATE SKIP LOCKED
)
UPDATE rtms_rtmsstream AS s
   SET lease_owner = %(owner)s,
       lease_expires_at = clock_timestamp() + make_interval(secs => %(ttl)s),
       lease_token = s.lease_token + 1,
       connect_attempts = s.connect_attempts + 1
  FROM candidates c
 WHERE s.id = c.id
RETURNING s.id, s.rtms_stream_id, s.meeting_id, s.server_urls, s.server_generation, s.lease_token, s.state
"""

_RENEW = """
UPDATE rtms_rtmsstream AS s
   SET lease_expires_at = clock_timestamp() + make_interval(secs => %(ttl)s)
  FROM unnest(%(ids)s::bigint[], %(tokens)s::bigint[]) AS held(id, token)
 WHERE s.id = held.id AND s.lease_token = held.token AND s.lease_owner = %(owner)s
   AND s.lease_expires_at > clock_timestamp()
RETURNING s.id
"""

_RELEASE = """
UPDATE rtms_rtmsstream SET lease_expires_at = clock_timestamp(), lease_owner = ''
 WHERE id = %(id)s AND lease_token = %(token)s AND lease_owner = %(owner)s
"""


def _urls(raw: object) -> tuple[str, ...]:
    # Django leaves jsonb from raw SQL undecoded (it decodes in the field, not the driver).
    value = json.loads(raw) if isinstance(raw, str | bytes) else raw
    return tuple(str(u) for u in value) if isinstance(value, list) else ()


def stream_claim(*, region_id: int, owner: str, ttl: timedelta, limit: int) -> list[Claim]:
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM,
            {
                "region_id": region_id,
                "owner": owner,
                "ttl": ttl.total_seconds(),
                "limit": limit,
                "states": _ACTIVE,
            },
        )
        rows = cursor.fetchall()
    return [
        Claim(
            stream_id=row[0],
            rtms_stream_id=row[1],
            meeting_id=row[2],
            server_urls=_urls(row[3]),
            server_generation=row[4],
            lease_token=row[5],
            state=row[6],
        )
        for row in rows
    ]


def stream_renew(*, owner: str, held: dict[int, int], ttl: timedelta) -> set[int]:
    """Extend the leases we still hold (stream id -> token). Returns the ids renewed; any id missing from
    the answer is lost and its sockets must be closed at once."""
    if not held:
        return set()
    ids = list(held)
    with connection.cursor() as cursor:
        cursor.execute(
            _RENEW,
            {"ids": ids, "tokens": [held[i] for i in ids], "owner": owner, "ttl": ttl.total_seconds()},
        )
        return {int(row[0]) for row in cursor.fetchall()}


def stream_duplicate_refused(stream_id: int, *, window: timedelta) -> bool:
    """Zoom refused our connection because another client holds the stream. Returns True once that has
    gone on for longer than ``window`` (judged by the database clock) since the first refusal: whoever holds
    it is not a dying connection of ours that Zoom has yet to drop, so retrying would only fight it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE rtms_rtmsstream SET duplicate_since = COALESCE(duplicate_since, clock_timestamp()),"
            " last_error = %(note)s WHERE id = %(id)s"
            " RETURNING clock_timestamp() - duplicate_since >= make_interval(secs => %(window)s)",
            {
                "id": stream_id,
                "window": window.total_seconds(),
                "note": "duplicate connection refused by Zoom",
            },
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def stream_ready(stream_id: int, *, lease_token: int | None = None) -> None:
    """The stream is ours again (while ``lease_token``, if given, is its newest): forget earlier duplicate
    refusals."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE rtms_rtmsstream SET duplicate_since = NULL WHERE id = %s AND duplicate_since IS NOT NULL"
            " AND (%s::bigint IS NULL OR lease_token = %s::bigint)",
            [stream_id, lease_token, lease_token],
        )


def stream_release(*, owner: str, stream_id: int, token: int) -> bool:
    """Give a lease back at once (clean shutdown, stream finished) so another gateway need not wait."""
    with connection.cursor() as cursor:
        cursor.execute(_RELEASE, {"id": stream_id, "token": token, "owner": owner})
        return bool(cursor.rowcount == 1)


def stream_holders(*, region_id: int, host: str, exclude: str) -> list[str]:
    """The owners other than ``exclude`` of this host holding live leases on the region's streams."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT lease_owner FROM rtms_rtmsstream"
            " WHERE region_id = %(region_id)s AND lease_expires_at > clock_timestamp()"
            " AND starts_with(lease_owner, %(prefix)s) AND lease_owner <> %(exclude)s",
            {"region_id": region_id, "prefix": f"{host}:", "exclude": exclude},
        )
        return [str(row[0]) for row in cursor.fetchall()]


def stream_leases_lapse(*, region_id: int, owners: list[str]) -> int:
    """End now the region's leases held by ``owners``, processes proven dead (``liveness.holder_dead``),
    so a claim may take their streams without waiting out the TTL. The claim bumps each stream's token as
    always: the fence holds even against a write the dead process had in flight."""
    if not owners:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE rtms_rtmsstream SET lease_expires_at = clock_timestamp()"
            " WHERE region_id = %(region_id)s AND lease_owner = ANY(%(owners)s)"
            " AND lease_expires_at > clock_timestamp()",
            {"region_id": region_id, "owners": owners},
        )
        return int(cursor.rowcount)
