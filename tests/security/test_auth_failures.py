"""Issue #20, item 7: failed bearer authentication was not throttled. An address that fails
API_AUTH_FAILURES_PER_MINUTE times is now answered 429 for the rest of the minute, even with a good token;
other addresses are not affected."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from api.services import api_client_create

pytestmark = pytest.mark.django_db


def _get(token: str, address: str) -> Any:
    return Client().get("/api/v1/regions/", HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR=address)


def test_an_address_that_keeps_failing_is_throttled_and_others_are_not(settings: Any) -> None:
    cache.clear()
    settings.API_AUTH_FAILURES_PER_MINUTE = 3
    _, good = api_client_create("ok", region_codes=[], quarantine_access=True)
    statuses = [_get("rtms_wrong-token-guess", "198.51.100.7").status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    throttled = _get(good, "198.51.100.7")  # even the right token, from there, this minute
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) >= 1
    assert _get(good, "198.51.100.8").status_code == 200  # another address


def test_a_malformed_header_counts_as_a_failure(settings: Any) -> None:
    cache.clear()
    settings.API_AUTH_FAILURES_PER_MINUTE = 2
    client = Client()
    for _ in range(2):
        response = client.get("/api/v1/regions/", HTTP_AUTHORIZATION="Bearer a b", REMOTE_ADDR="198.51.100.9")
        assert response.status_code == 401
    assert _get("anything", "198.51.100.9").status_code == 429
