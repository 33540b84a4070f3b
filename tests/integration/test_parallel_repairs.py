"""Issue #18 point 3: a run applies its repairs on threads, and every rtms_app/status call of every caller
keeps its turn in one per-account schedule (rtms/zoom_pacing.py), so parallel starts never meet a 429."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connections

from reconciler.services import reconcile_account
from regions.models import Region, ResidencyRule
from rtms.capture import rtms_start
from rtms.models import Meeting, ZoomAccount
from rtms.zoom_clients import zoom_api_for
from rtms.zoom_pacing import PacingBacklog, wait_for_status_turn
from zoomsim.testing import SimServer

# The repair threads have their own connections: the rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def account(eu: Region) -> ZoomAccount:
    cache.clear()
    ResidencyRule.objects.create(position=10, field="host_email_domain", value="eu.example.com", region=eu)
    acc, _ = ZoomAccount.objects.get_or_create(zoom_account_id="test-account", defaults={"mode": "api"})
    return acc


def _status_calls(sim: SimServer) -> list[dict[str, Any]]:
    return [e for e in sim.client.ledger(kind="rest.call") if "/rtms_app/status" in str(e.get("path"))]


# zoomsim in real time, with a limit of 5 rtms_app/status calls per second; the product keeps to 4.
REAL_TIME_LOW_LIMIT = {"time_scale": 1.0, "rtms_status_rate_per_second": 5, "rtms_event_delay_s": 0.05}


@pytest.mark.parametrize("sim", [REAL_TIME_LOW_LIMIT], indirect=True)
def test_a_run_starts_missed_meetings_on_threads_within_zooms_rate_limit(
    sim: SimServer, account: ZoomAccount, settings: Any
) -> None:
    settings.RECONCILE_REPAIR_THREADS = 4
    settings.ZOOM_RTMS_STATUS_CALLS_PER_SECOND = 4
    created = [sim.client.create_meeting(f"host{i}@eu.example.com", rtms="api") for i in range(10)]
    run = reconcile_account(account, trigger="test", api_factory=zoom_api_for)
    assert run.status == "succeeded", run.errors
    assert run.repairs.get("create_and_start:started") == 10, run.repairs
    calls = _status_calls(sim)
    assert [c["status"] for c in calls] == [204] * 10  # no 429: the calls kept their turns
    started = {str(c["path"]).split("/")[3] for c in calls}
    assert started == {str(m["meeting_id"]) for m in created}  # one start each
    assert Meeting.objects.filter(rtms_start_called_at__isnull=False).count() == 10


@pytest.mark.parametrize("sim", [REAL_TIME_LOW_LIMIT], indirect=True)
def test_start_tasks_of_several_workers_share_one_schedule(
    sim: SimServer, account: ZoomAccount, settings: Any
) -> None:
    settings.ZOOM_RTMS_STATUS_CALLS_PER_SECOND = 4
    pks = []
    for i in range(8):
        created = sim.client.create_meeting(f"host{i}@eu.example.com", rtms="api")
        meeting = Meeting.objects.create(
            zoom_uuid=created["meeting_uuid"],
            zoom_meeting_id=int(created["meeting_id"]),
            account=account,
            region=Region.objects.get(code="eu-central"),
            state="live",
        )
        pks.append(meeting.pk)

    def start(pk: int) -> str:
        try:
            return rtms_start(pk)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(start, pks))
    assert results == ["called"] * 8
    assert [c["status"] for c in _status_calls(sim)] == [204] * 8


def test_a_caller_whose_turn_is_too_far_away_is_told_so_instead_of_waiting(settings: Any) -> None:
    cache.clear()
    settings.ZOOM_RTMS_STATUS_CALLS_PER_SECOND = 1
    assert wait_for_status_turn("acct-pacing", max_wait_s=5) == 0  # the first turn is now
    with pytest.raises(PacingBacklog) as raised:
        wait_for_status_turn("acct-pacing", max_wait_s=0.5)  # the next is a second away
    assert raised.value.status == 429 and raised.value.retry_after is not None
    # Another account has a schedule of its own.
    assert wait_for_status_turn("acct-other", max_wait_s=0) == 0


class _Statements:
    """Counts SQL statements from every thread (the repair threads have connections of their own)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def wrap(self, original: Any) -> Any:
        def counted(cursor: Any, *args: Any) -> Any:
            with self._lock:
                self.count += 1
            return original(cursor, *args)

        return counted


def test_statements_per_missed_start_do_not_grow_with_the_run(
    sim: SimServer, account: ZoomAccount, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #18 point 3: a run creates, routes and checks its missed meetings in bulk; each start then
    costs its claim and its record, not the ~16 statements of one-by-one repairs (docs/benchmarks.md)."""
    from django.db.backends.utils import CursorWrapper

    settings.RECONCILE_REPAIR_THREADS = 4
    n = 30
    for i in range(n):
        sim.client.create_meeting(f"host{i}@eu.example.com", rtms="api")
    statements = _Statements()
    # Django's private execution methods: every statement of every thread passes through one of them.
    for method in ("_execute", "_executemany"):
        monkeypatch.setattr(CursorWrapper, method, statements.wrap(getattr(CursorWrapper, method)))
    run = reconcile_account(account, trigger="test", api_factory=zoom_api_for)
    monkeypatch.undo()
    assert run.repairs.get("create_and_start:started") == n, run.repairs
    assert Meeting.objects.filter(rtms_start_called_at__isnull=False).count() == n
    assert statements.count <= 2 * n + 25, statements.count
