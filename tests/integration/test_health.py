from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.integration.conftest import EU_ALIAS

pytestmark = pytest.mark.django_db(databases=["default", EU_ALIAS])

TOKEN = "ops-token-for-tests"
OPERATOR: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


@pytest.fixture(autouse=True)
def operations_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPERATIONS_TOKEN", TOKEN)


def test_healthz_answers_without_touching_dependencies() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_every_database_and_redis() -> None:
    response = Client().get("/readyz", **OPERATOR)
    assert response.status_code == 200
    assert response.json()["checks"] == {
        "database:default": "ok",
        f"database:{EU_ALIAS}": "ok",
        "redis": "ok",
    }


def test_readyz_is_503_when_redis_is_unreachable(settings: Any) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = Client().get("/readyz", **OPERATOR)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["checks"]["redis"] != "ok"
    assert body["checks"]["database:default"] == "ok"


def test_metrics_are_in_prometheus_text_format() -> None:
    response = Client().get("/metrics", **OPERATOR)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")


def test_health_endpoints_refuse_other_methods() -> None:
    assert Client().post("/healthz").status_code == 405
