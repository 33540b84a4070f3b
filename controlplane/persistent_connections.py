"""Database connections for the long-running asyncio processes (gateway, event subscriber): one persistent,
health-checked connection per thread, not the psycopg pool.

The pool suits the web process, whose requests come on ever new threads. These processes use a handful of
fixed threads, and what they need from the database during an outage is to be back the moment it is: the
pool reconnects from a background worker that waits 1 s, 2 s, 4 s... between attempts, while a caller waits
up to the pool timeout for it. A gateway cut off that way for longer than its leases allow closes its RTMS
sockets (tests/e2e/test_database_outage.py). A thread's own connection is simply opened again on its next
use, as soon as the server answers.
"""

from __future__ import annotations

from django.db import connections


def use_persistent_connections() -> None:
    """Switch this process from pooled to persistent connections. Call before its first query."""
    for alias in connections:
        conf = connections.settings[alias]
        options = conf.setdefault("OPTIONS", {})
        if "pool" not in options:
            continue  # DB_POOL_MAX_SIZE=0: already one connection per thread (DB_CONN_MAX_AGE)
        del options["pool"]
        conf["CONN_MAX_AGE"] = None  # kept for the life of the thread...
        conf["CONN_HEALTH_CHECKS"] = True  # ...checked before reuse after an error, reopened if broken
        connection = connections[alias]
        if connection.connection is not None:  # opened already (checks at start-up): reopen unpooled
            connection.close()
