"""Pooled database connections survive a Celery task boundary (controlplane/runtime/celery_django_pool.py):
Celery 5.7 closed the whole pool before and after every task, so each task opened new PostgreSQL
connections (celery/celery#10554)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from celery.fixups.django import DjangoWorkerFixup  # type: ignore[attr-defined]  # not in celery-types
from django.db import connection

from controlplane.celery import app

pytestmark = pytest.mark.django_db(transaction=True)

A_TASK = SimpleNamespace(request=SimpleNamespace(is_eager=False))


def test_a_task_boundary_hands_the_connection_back_and_keeps_the_pool() -> None:
    assert connection.settings_dict["OPTIONS"].get("pool"), "the tests run with Django's connection pool"
    fixup = DjangoWorkerFixup(app)
    fixup.worker = SimpleNamespace(pool_cls="celery.concurrency.prefork:TaskPool")  # a prefork worker's
    connection.ensure_connection()
    pool = connection.pool  # type: ignore[attr-defined]  # Django 5.1's pool, not in django-stubs yet
    opened = pool.get_stats()["connections_num"]  # connection attempts the pool has made so far
    for _ in range(3):  # three tasks, each between a prerun and a postrun
        fixup.on_task_prerun(sender=A_TASK)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        fixup.on_task_postrun(sender=A_TASK)
        assert connection.connection is None  # handed back to the pool
    assert connection.pool is pool and not pool.closed  # type: ignore[attr-defined]
    assert pool.get_stats()["connections_num"] == opened  # no task opened a new connection
