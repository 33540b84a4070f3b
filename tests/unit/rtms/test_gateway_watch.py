"""What the gateway does when it reads a held stream's row as interrupted while its own session is ready
again: a late rtms_interrupted from Zoom is put right, a newer one interrupts the session, and its own
interruption (no event from Zoom) is left to the moves of its recovery (tests/e2e/test_gateway_failover.py
once lost this race: a media socket restored, then the whole session dropped for its own old state)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from rtms.gateway import runner
from rtms.gateway.runner import StreamRow
from rtms.lifecycle import StreamState
from rtms.zoom.transport import StatusKind
from tests.unit.rtms.test_gateway_finish import SID, RecordingMoves, _gateway

READY_MS = 1_000_000


class RecordingConnection:
    def __init__(self) -> None:
        self.interrupted = 0

    def interrupt(self) -> None:
        self.interrupted += 1


def _rows(event_ts: int | None) -> Any:
    async def rows(*_args: Any, **_kwargs: Any) -> dict[int, StreamRow]:
        return {SID: StreamRow(StreamState.INTERRUPTED, 1, ("wss://rtms.example/1",), event_ts)}

    return lambda _fn: rows


@pytest.mark.parametrize(
    ("event_ts", "interrupted", "moves"),
    [
        (None, 0, []),  # the gateway's own interruption: its recovery's moves put the row right
        (READY_MS - 5_000, 0, [(StreamState.CONNECTING, StreamState.CONNECTED)]),  # late: put right
        (READY_MS + 60_000, 1, []),  # Zoom interrupted the stream after we were ready: act on it
    ],
)
async def test_an_interrupted_row_under_a_ready_session(
    monkeypatch: pytest.MonkeyPatch, event_ts: int | None, interrupted: int, moves: list[Any]
) -> None:
    recorded = RecordingMoves()
    gateway, held = _gateway(recorded)
    connection = RecordingConnection()
    held.connection = connection  # type: ignore[assignment]
    held.sink = SimpleNamespace(last_status=StatusKind.READY, ready_ms=READY_MS)  # type: ignore[assignment]
    monkeypatch.setattr(runner, "db", _rows(event_ts))
    await gateway._watch()
    assert connection.interrupted == interrupted
    assert [m.targets for m in recorded.moves] == moves
