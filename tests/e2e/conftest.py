from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from regions.models import Region, ResidencyRule
from rtms.models import ZoomAccount
from tests.e2e.harness import ARTIFACTS, flush_e2e_redis

REGION_DOMAINS = {
    "eu-central": "eu.example.com",
    "us-east": "us.example.com",
    "ap-southeast": "ap.example.com",
}


@pytest.fixture
def residency() -> dict[str, str]:
    """Three regions with a host-domain rule each, committed so the processes see them."""
    for position, (code, domain) in enumerate(REGION_DOMAINS.items(), start=1):
        region, _ = Region.objects.get_or_create(code=code, defaults={"name": code, "jurisdiction": code})
        ResidencyRule.objects.update_or_create(
            position=position * 10, defaults={"field": "host_email_domain", "value": domain, "region": region}
        )
    ZoomAccount.objects.update_or_create(
        zoom_account_id="test-account", defaults={"mode": "api", "active": True}
    )
    return REGION_DOMAINS


@pytest.fixture(autouse=True)
def _clean_broker() -> Iterator[None]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    flush_e2e_redis()
    yield
    flush_e2e_redis()


def pytest_collection_modifyitems(items: list[Any]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
