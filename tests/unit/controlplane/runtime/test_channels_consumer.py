"""What controlplane/runtime/channels_consumer.py assumes of Channels' consumer, and its fallback."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from channels import consumer as channels_consumer_module
from channels.consumer import AsyncConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from controlplane.runtime import channels_consumer
from controlplane.runtime.channels_consumer import JsonConsumerWithoutConnectionCheck
from tests.unit.controlplane.runtime.conftest import SkippedEvents


class Recording(JsonConsumerWithoutConnectionCheck):
    def __init__(self) -> None:
        self.handled: list[dict[str, Any]] = []

    async def live_state(self, message: dict[str, Any]) -> None:
        self.handled.append(message)


@pytest.fixture
def connection_checks(monkeypatch: pytest.MonkeyPatch) -> list[None]:
    checks: list[None] = []

    async def aclose_old_connections() -> None:
        checks.append(None)

    monkeypatch.setattr(channels_consumer_module, "aclose_old_connections", aclose_old_connections)
    return checks


def test_channels_checks_connections_before_every_handler_in_the_dispatch_overridden() -> None:
    assert AsyncJsonWebsocketConsumer.dispatch is AsyncConsumer.dispatch  # no other override in between
    source = inspect.getsource(AsyncConsumer.dispatch)
    assert "getattr(self, get_handler_name(message), None)" in source
    assert "await aclose_old_connections()" in source


async def test_messages_reach_their_handler_without_a_connection_check_on_the_channels_it_was_written_for(
    connection_checks: list[None], skipped_events: SkippedEvents
) -> None:
    assert channels_consumer.PATCH.check()
    consumer = Recording()
    await consumer.dispatch({"type": "live.state", "n": 1})
    assert consumer.handled == [{"type": "live.state", "n": 1}]
    assert connection_checks == []
    with pytest.raises(ValueError, match="no handler for message type 'no.such'"):
        await consumer.dispatch({"type": "no.such"})
    assert skipped_events() == []


async def test_channels_own_dispatch_runs_and_the_skip_is_logged_when_channels_is_another_version(
    on_other_versions: SkippedEvents, connection_checks: list[None], monkeypatch: pytest.MonkeyPatch
) -> None:
    skip = channels_consumer.PATCH.check()  # what the module decided when it was imported
    assert on_other_versions() == [
        {"patch": "channels_consumer", "library": "channels", "found": "0.0", "expected": "4.3"}
    ]
    monkeypatch.setattr(channels_consumer, "_SKIP_CONNECTION_CHECK", skip)
    consumer = Recording()
    await consumer.dispatch({"type": "live.state", "n": 1})
    assert consumer.handled == [{"type": "live.state", "n": 1}]
    assert connection_checks == [None]
