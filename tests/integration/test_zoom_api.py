"""The REST client against zoomsim: tokens, refresh on 401, 429 handling, error mapping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rtms.models import ZoomAccount
from rtms.zoom.api import (
    MemoryTokenCache,
    ZoomApi,
    ZoomAuthError,
    ZoomRateLimited,
    ZoomRefused,
    ZoomUnavailable,
)
from rtms.zoom.credentials import AccountApiCredentials
from rtms.zoom_clients import zoom_api_for
from zoomsim.testing import SimServer

pytestmark = pytest.mark.django_db


def _api(sim: SimServer, **kwargs: object) -> ZoomApi:
    creds = AccountApiCredentials(
        "test-account", "test-s2s-client-id", "test-s2s-client-secret", "test-subscription"
    )
    return ZoomApi(
        creds,
        api_base_url=f"{sim.base_url}/v2",
        token_url=f"{sim.base_url}/oauth/token",
        timeout_s=5,
        refresh_margin_s=0,
        cache=MemoryTokenCache(),
        sleep=lambda s: None,
        **kwargs,  # type: ignore[arg-type]
    )


def _today() -> tuple[datetime, datetime]:
    now = datetime.now(tz=UTC)
    return now, now


def test_lists_live_meetings_with_a_cached_token(sim: SimServer) -> None:
    sim.client.create_meeting("anna@eu.example.com", rtms="api")
    api = _api(sim)
    today = datetime.now(tz=UTC).date()
    page = api.list_meetings(meeting_type="live", from_date=today, to_date=today)
    assert len(page.meetings) == 1 and page.meetings[0].email == "anna@eu.example.com"
    api.list_meetings(meeting_type="live", from_date=today, to_date=today)
    assert len(sim.client.ledger(kind="oauth.token")) == 1


def test_an_expired_token_is_refreshed_once_on_401(sim: SimServer) -> None:
    api = _api(sim)
    today = datetime.now(tz=UTC).date()
    api.list_meetings(meeting_type="live", from_date=today, to_date=today)
    sim.client.expire_tokens()
    api.list_meetings(meeting_type="live", from_date=today, to_date=today)
    assert len(sim.client.ledger(kind="oauth.token")) == 2


def test_wrong_credentials_raise_an_auth_error(sim: SimServer) -> None:
    creds = AccountApiCredentials("test-account", "test-s2s-client-id", "wrong", "sub")
    api = ZoomApi(
        creds,
        api_base_url=f"{sim.base_url}/v2",
        token_url=f"{sim.base_url}/oauth/token",
        timeout_s=5,
        refresh_margin_s=0,
        cache=MemoryTokenCache(),
    )
    with pytest.raises(ZoomAuthError):
        api.access_token()


def test_429_is_retried_then_raised_with_the_limit(sim: SimServer) -> None:
    sim.client.rest_fault(path_prefix="/v2/metrics/meetings", status=429, times=10)
    today = datetime.now(tz=UTC).date()
    with pytest.raises(ZoomRateLimited):
        _api(sim, max_rate_limit_retries=2).list_meetings(meeting_type="live", from_date=today, to_date=today)
    assert len([e for e in sim.client.ledger(kind="rest.call") if "metrics" in str(e.get("path"))]) == 3


def test_5xx_is_unavailable_and_4xx_refusals_carry_zooms_code(sim: SimServer) -> None:
    sim.client.rest_fault(path_prefix="/v2/metrics/meetings", status=503, times=1)
    today = datetime.now(tz=UTC).date()
    api = _api(sim)
    with pytest.raises(ZoomUnavailable):
        api.list_meetings(meeting_type="live", from_date=today, to_date=today)
    created = sim.client.create_meeting("anna@eu.example.com", rtms="none")
    with pytest.raises(ZoomRefused) as refused:
        api.rtms_app_status(int(created["meeting_id"]), "start", rtms_client_id="test-rtms-client-id")
    assert refused.value.code == 2308


def test_tokens_are_shared_between_clients_through_the_cache(sim: SimServer) -> None:
    account, _ = ZoomAccount.objects.get_or_create(zoom_account_id="test-account")
    from django.core.cache import cache

    cache.clear()
    today = datetime.now(tz=UTC).date()
    zoom_api_for(account).list_meetings(meeting_type="live", from_date=today, to_date=today)
    zoom_api_for(account).list_meetings(meeting_type="live", from_date=today, to_date=today)
    assert len(sim.client.ledger(kind="oauth.token")) == 1
