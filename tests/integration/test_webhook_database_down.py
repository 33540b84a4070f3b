"""Issue #21, item 1 (first step): while PostgreSQL cannot be reached, a webhook is answered 503 with
Retry-After, so Zoom retries it, and never a 500 traceback. The database here is really unreachable: the
connection's pool is rebuilt against a port nothing listens on (no function is patched)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from rtms.inbox import webhook
from rtms.models import InboundEvent
from tests.e2e.harness import free_port
from tests.support import as_bytes, event_body, meeting_payload, sign_webhook

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def database_unreachable() -> Iterator[None]:
    connection: Any = connections["default"]  # django-stubs do not know close_pool (Django 5.1+)
    assert connection.vendor == "postgresql" and "pool" in connection.settings_dict["OPTIONS"]
    saved = {key: connection.settings_dict[key] for key in ("PORT", "OPTIONS")}
    connection.close()
    connection.close_pool()
    connection.settings_dict["PORT"] = str(free_port())
    connection.settings_dict["OPTIONS"] = {
        **saved["OPTIONS"],
        "connect_timeout": 1,
        "pool": {**saved["OPTIONS"]["pool"], "timeout": 1},
    }
    webhook.webhook_keys_forget()  # the accounts are read from the database at the next delivery
    try:
        yield
    finally:
        connection.close()
        connection.close_pool()
        connection.settings_dict.update(saved)


def _deliver() -> Any:
    raw = as_bytes(event_body("meeting.started", meeting_payload("down==", 81234567009)))
    signed: dict[str, Any] = sign_webhook(raw)
    return Client(raise_request_exception=False).post(
        "/zoom/webhook", data=raw, content_type="application/json", **signed
    )


def test_a_webhook_is_503_with_retry_after_while_postgresql_is_unreachable(
    database_unreachable: None,
) -> None:
    response = _deliver()
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == str(webhook.DATABASE_RETRY_AFTER_S)
    assert "retry" in response.json()["error"]


def test_the_same_delivery_is_stored_once_postgresql_is_back() -> None:
    assert _deliver().status_code == 200
    assert InboundEvent.objects.filter(meeting_uuid="down==").count() == 1
