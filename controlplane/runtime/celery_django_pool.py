"""Celery's Django fixup, told to hand connections back to their pool between tasks instead of closing it.

Celery 5.7's ``DjangoWorkerFixup.close_database`` runs before and after every task. In a prefork child with
Django's psycopg pool it closes the whole pool each time (``close_pool``), so every task opens new
PostgreSQL connections: a backend forked, authenticated and set up per task, and the pool's maintenance
thread busy refilling it (celery/celery#10554, a fix proposed in celery/celery#10555). In
bench/recovery.py that was a fifth of the events worker's CPU (docs/benchmarks.md).

Here the task boundaries only close each connection, which for a pooled connection hands it back to the
pool (and for an unpooled one closes it, as before). The pool a child inherits from its parent is still
closed when the child starts: that path, ``_close_database`` from ``on_worker_process_init``, is untouched,
as is ``CELERY_DB_REUSE_MAX``'s behaviour when it is set.
"""

from __future__ import annotations

from typing import Any

from celery.fixups.django import DjangoWorkerFixup  # type: ignore[attr-defined]  # not in celery-types

from controlplane.runtime.patch import Patch, Pin

PATCH = Patch("celery_django_pool", (Pin("celery", ((5, 7),)), Pin("django", ((5, 2),))))

_UPSTREAM_CLOSE_DATABASE = DjangoWorkerFixup.close_database


def _close_connections(fixup: Any, **kwargs: Any) -> None:
    if fixup.db_reuse_max:  # the operator asked for Celery's own reuse counting: theirs to keep
        _UPSTREAM_CLOSE_DATABASE(fixup, **kwargs)
        return
    for conn in fixup._db.connections.all(initialized_only=True):
        try:
            conn.close()  # a pooled connection goes back to its pool, which stays open
        except fixup.interface_errors:
            pass
        except fixup.DatabaseError as exc:  # as upstream: a connection already gone is not an error
            if "closed" not in str(exc) and "not connected" not in str(exc):
                raise


def keep_pools_between_tasks() -> bool:
    """Installs the change (process-wide, before the worker starts); False when the versions differ and
    Celery's own behaviour stays."""
    if not PATCH.check():
        return False
    DjangoWorkerFixup.close_database = _close_connections
    return True
