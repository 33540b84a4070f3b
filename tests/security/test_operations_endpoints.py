"""Issue #20, item 8: /metrics (Zoom account ids, figures read from the database) and the detail of /readyz
(the names of the database aliases) answered anyone. Both are now for operators holding OPERATIONS_TOKEN;
/readyz still answers its status to a probe without it, and /healthz stays open."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from controlplane.health import metrics_forget, serve_metrics_on_internal_port
from tests.e2e.harness import free_port
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


def test_a_scrape_within_the_interval_reads_nothing_from_the_database(settings: Any) -> None:
    """/metrics used to query the database at every scrape; now at most every METRICS_DATABASE_INTERVAL."""
    settings.METRICS_DATABASE_INTERVAL_SECONDS = 60
    metrics_forget()
    operator: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
    with CaptureQueriesContext(connection) as first:
        assert b"rtms_inbox_events" in Client().get("/metrics", **operator).content
    with CaptureQueriesContext(connection) as second:
        assert b"rtms_inbox_events" in Client().get("/metrics", **operator).content
    assert len(first.captured_queries) > 0
    assert second.captured_queries == []


def test_the_figures_on_an_internal_port_need_no_token(settings: Any) -> None:
    settings.METRICS_PORT = free_port()
    settings.METRICS_ADDRESS = "127.0.0.1"
    metrics_forget()
    server = serve_metrics_on_internal_port()
    assert server is not None
    try:
        url = f"http://127.0.0.1:{settings.METRICS_PORT}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200 and b"rtms_inbox_events" in response.read()
    finally:
        server.shutdown()
        server.server_close()
