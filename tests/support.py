"""Helpers shared by integration and end-to-end tests: Zoom-shaped bodies, signatures, a zoomsim."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from datetime import datetime
from typing import Any

import redis
from django.conf import settings

from zoomsim.config import AccountConfig, AppCreds, SimConfig


def sign_webhook(body: bytes, *, secret: str | None = None, timestamp: int | None = None) -> dict[str, str]:
    """Headers Zoom would send, computed here independently of the product's signing code."""
    secret = secret if secret is not None else os.environ["ZOOM_WEBHOOK_SECRET_TOKEN"]
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"HTTP_X_ZM_REQUEST_TIMESTAMP": ts, "HTTP_X_ZM_SIGNATURE": f"v0={digest}"}


def event_body(event: str, payload: dict[str, Any], *, event_ts: int = 1_760_000_000_000) -> dict[str, Any]:
    return {"event": event, "event_ts": event_ts, "payload": payload}


def meeting_payload(
    uuid: str, meeting_id: int, *, host_email: str | None = "anna@eu.example.com"
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": str(meeting_id),
        "uuid": uuid,
        "host_id": "host-anna",
        "topic": "Quarterly review",
        "type": 2,
        "start_time": "2026-11-20T10:00:00Z",
        "timezone": "UTC",
        "duration": 60,
    }
    if host_email is not None:
        obj["host_email"] = host_email
    return {"account_id": "test-account", "object": obj}


def as_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def queue_length(queue: str) -> int:
    """How many Celery messages wait in ``queue`` on the test broker."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        return int(client.llen(queue))
    finally:
        client.close()


def newest_tasks(queue: str, count: int) -> list[tuple[str, dict[str, Any]]]:
    """The last ``count`` Celery messages published to ``queue`` (oldest first): (task name, kwargs)."""
    return [(name, kwargs) for name, kwargs, _eta in newest_tasks_with_eta(queue, count)]


def newest_tasks_with_eta(queue: str, count: int) -> list[tuple[str, dict[str, Any], datetime | None]]:
    """The last ``count`` Celery messages published to ``queue`` (oldest first): (task name, kwargs, ETA or
    None when it may run at once). kombu's Redis transport LPUSHes, so the newest message is at index 0."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        raw = client.lrange(queue, 0, count - 1)
    finally:
        client.close()
    tasks = []
    for message in reversed(raw):
        envelope = json.loads(message)
        _args, kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
        eta = envelope["headers"].get("eta")
        tasks.append((envelope["headers"]["task"], kwargs, datetime.fromisoformat(eta) if eta else None))
    return tasks


def sim_config(**overrides: Any) -> SimConfig:
    """zoomsim with the product's test credentials (tests/settings.py), fast timers."""
    config = SimConfig(
        port=0,
        time_scale=0.01,
        rtms_app=AppCreds(os.environ["ZOOM_CLIENT_ID"], os.environ["ZOOM_CLIENT_SECRET"]),
        webhook_secret_token=os.environ["ZOOM_WEBHOOK_SECRET_TOKEN"],
        account=AccountConfig(
            os.environ["ZOOM_ACCOUNT_ID"],
            AppCreds(os.environ["ZOOM_S2S_CLIENT_ID"], os.environ["ZOOM_S2S_CLIENT_SECRET"]),
            os.environ["ZOOM_EVENT_SUBSCRIPTION_ID"],
            data_centre="fra1",
        ),
    )
    return config.with_overrides(**overrides) if overrides else config
