"""Waking gateways when a stream becomes wanted: PostgreSQL LISTEN/NOTIFY, with polling as the fallback.

NOTIFY is sent after the transaction that made the stream wanted committed, so a woken gateway always
finds the row. Losing a notification costs at most one poll interval, never a stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg
from django.db import connection

logger = logging.getLogger(__name__)

CHANNEL = "rtms_streams"


def notify_gateways(region_code: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, region_code])


def _dsn() -> str:
    settings_dict = connection.settings_dict
    parts = {
        "dbname": settings_dict["NAME"],
        "user": settings_dict.get("USER") or "",
        "password": settings_dict.get("PASSWORD") or "",
        "host": settings_dict.get("HOST") or "",
        "port": str(settings_dict.get("PORT") or ""),
    }
    return " ".join(f"{k}={v}" for k, v in parts.items() if v)


async def listen_for_region(
    region_code: str, wake: asyncio.Event, stop: asyncio.Event, *, timeout_s: float
) -> None:
    """Set ``wake`` whenever a stream of this region may be waiting. Reconnects with capped back-off."""
    delay = 0.5
    dsn = _dsn()
    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(
                dsn, autocommit=True, connect_timeout=int(timeout_s)
            ) as conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                delay = 0.5
                wake.set()  # anything notified while we were not listening is picked up now
                while not stop.is_set():
                    gen = conn.notifies(timeout=timeout_s)
                    async for note in gen:
                        if note.payload == region_code:
                            wake.set()
        except (psycopg.Error, OSError) as exc:
            logger.warning(
                "gateway.listen_failed", extra={"region": region_code, "error": type(exc).__name__}
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            delay = min(delay * 2, 10.0)
