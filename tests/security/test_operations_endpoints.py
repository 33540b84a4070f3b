"""Issue #20, item 8: /metrics (Zoom account ids, figures read from the database) and the detail of /readyz
(the names of the database aliases) answered anyone. Both are now for operators holding OPERATIONS_TOKEN;
/readyz still answers its status to a probe without it, and /healthz stays open."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.integration.conftest import EU_ALIAS

pytestmark = pytest.mark.django_db(databases=["default", EU_ALIAS])

TOKEN = "operations-token-0123456789"


@pytest.fixture(autouse=True)
def operations_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPERATIONS_TOKEN", TOKEN)


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer "])
def test_metrics_need_the_operations_token(authorization: str | None) -> None:
    headers: dict[str, Any] = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = Client().get("/metrics", **headers)
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Bearer"
    assert b"rtms_" not in response.content


def test_metrics_with_the_token() -> None:
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200 and b"rtms_" in response.content


def test_readyz_tells_a_probe_only_its_status() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert b"database" not in response.content and EU_ALIAS.encode() not in response.content
    detailed = Client().get("/readyz", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").json()
    assert detailed["checks"]["database:default"] == "ok"


def test_without_a_configured_token_nobody_reads_the_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPERATIONS_TOKEN")
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401
    assert Client().get("/healthz").json() == {"status": "ok"}
