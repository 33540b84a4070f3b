"""The /metrics/meetings call budget fails closed (issue #21): a cache that cannot be reached puts the run off
without calling Zoom, and a cache that came back empty does not hand out the budget the recorded runs
already spent. Against zoomsim and a real Redis, nothing patched."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from reconciler.models import ReconcileRun
from reconciler.observe import BUDGET_UNAVAILABLE, budget_remaining
from reconciler.services import reconcile_account
from regions.models import Region, ResidencyRule
from rtms.models import ZoomAccount
from rtms.zoom_clients import zoom_api_for
from tests.e2e.harness import free_port
from zoomsim.testing import SimServer

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def account(eu: Region) -> ZoomAccount:
    cache.clear()
    ResidencyRule.objects.create(position=10, field="host_email_domain", value="eu.example.com", region=eu)
    acc, _ = ZoomAccount.objects.get_or_create(zoom_account_id="test-account", defaults={"mode": "api"})
    return acc


def _zoom_calls(sim: SimServer) -> list[dict[str, Any]]:
    return [c for c in sim.client.ledger(kind="rest.call") if c["path"].startswith("/v2/")]


def test_a_cache_that_cannot_be_reached_puts_the_run_off_and_calls_nothing(
    sim: SimServer, account: ZoomAccount, settings: Any
) -> None:
    sim.client.create_meeting("anna@eu.example.com", rtms="api")  # a missed start it would repair
    # Nothing listens on this port: every budget check fails to connect.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    run = reconcile_account(account, trigger="test", api_factory=zoom_api_for)
    assert run.status == "partial" and run.errors == [BUDGET_UNAVAILABLE]
    assert run.finished_at is not None, "the run is recorded as finished, not left running"
    assert run.api_calls == 0 and run.repairs == {}
    assert _zoom_calls(sim) == [], "no call to Zoom without the budget"


def test_an_emptied_cache_does_not_give_the_spent_budget_again(
    sim: SimServer, account: ZoomAccount, settings: Any
) -> None:
    sim.client.create_meeting("anna@eu.example.com", rtms="api")
    # A run that finished a moment ago spent the whole budget; then Redis restarted, empty.
    ReconcileRun.objects.create(
        account=account,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        status="succeeded",
        api_calls=settings.RECONCILE_METRICS_CALLS_PER_MINUTE,
    )
    cache.clear()
    run = reconcile_account(account, trigger="test", api_factory=zoom_api_for)
    assert run.errors == ["rate budget spent"] and run.api_calls == 0
    assert not [c for c in _zoom_calls(sim) if c["path"] == "/v2/metrics/meetings"]
    assert budget_remaining("test-account") == 0


def test_with_budget_left_after_an_emptied_cache_only_what_is_left_is_spent(
    sim: SimServer, account: ZoomAccount, settings: Any
) -> None:
    sim.client.create_meeting("anna@eu.example.com", rtms="api")
    ReconcileRun.objects.create(
        account=account,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        status="succeeded",
        api_calls=settings.RECONCILE_METRICS_CALLS_PER_MINUTE - 1,
    )
    cache.clear()
    run = reconcile_account(account, trigger="test", api_factory=zoom_api_for)
    assert run.api_calls == 1 and run.meetings_seen == 1
    assert budget_remaining("test-account") == 0
