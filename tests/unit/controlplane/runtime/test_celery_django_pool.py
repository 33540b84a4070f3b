"""controlplane/runtime/celery_django_pool.py: what it assumes of Celery's Django fixup, and that it leaves
the fixup alone on other versions. That pooled connections survive a task boundary is shown against the
real database in tests/integration/test_worker_db_pool.py."""

from __future__ import annotations

import inspect

import pytest
from celery import Celery
from celery.fixups.django import DjangoWorkerFixup  # type: ignore[attr-defined]  # not in celery-types

from controlplane.runtime import celery_django_pool
from tests.unit.controlplane.runtime.conftest import SkippedEvents


def test_task_boundaries_go_through_close_database_and_process_start_through_the_full_close() -> None:
    assert "self.close_database()" in inspect.getsource(DjangoWorkerFixup.on_task_prerun)
    assert "self.close_database()" in inspect.getsource(DjangoWorkerFixup.on_task_postrun)
    # The child's start closes the pool it inherited: the path the patch leaves alone.
    assert "self._close_database()" in inspect.getsource(DjangoWorkerFixup.on_worker_process_init)
    assert "close_pool()" in inspect.getsource(DjangoWorkerFixup._close_database)


def test_the_fixup_attributes_the_patch_reads_are_set_by_its_constructor() -> None:
    fixup = DjangoWorkerFixup(Celery("probe"))
    assert fixup.db_reuse_max is None
    assert hasattr(fixup._db, "connections")
    assert fixup.interface_errors and fixup.DatabaseError


def test_the_patch_is_installed_by_the_celery_app() -> None:
    import controlplane.celery  # noqa: F401  (installs it)

    assert DjangoWorkerFixup.close_database is celery_django_pool._close_connections


def test_on_another_version_celerys_own_close_stays(
    monkeypatch: pytest.MonkeyPatch, on_other_versions: SkippedEvents
) -> None:
    upstream = celery_django_pool._UPSTREAM_CLOSE_DATABASE
    monkeypatch.setattr(DjangoWorkerFixup, "close_database", upstream)
    assert not celery_django_pool.keep_pools_between_tasks()
    assert DjangoWorkerFixup.close_database is upstream
    assert {e["patch"] for e in on_other_versions()} == {"celery_django_pool"}
