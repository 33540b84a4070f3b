"""Channels WebSocket routes: the live transcript page's socket (**contract**) and the live list's."""

from __future__ import annotations

from typing import Any

from django.urls import path

from live.consumers import MeetingListConsumer, TranscriptConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/live/<int:meeting_id>/", TranscriptConsumer.as_asgi()),
    path("ws/live/", MeetingListConsumer.as_asgi()),
]
