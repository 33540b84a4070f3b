"""Channels WebSocket routes; the live transcript consumer (ws/live/<meeting>/) joins with the live page."""

from __future__ import annotations

from typing import Any

websocket_urlpatterns: list[Any] = []
