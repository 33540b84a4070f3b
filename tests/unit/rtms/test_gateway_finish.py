"""A stream's end while the database fails: the gateway lets the stream go instead of holding it for ever
(a held stream's lease is renewed every cycle, with no connection behind it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError

from rtms.gateway import runner
from rtms.gateway.claims import Claim, stream_release
from rtms.gateway.moves import Move
from rtms.gateway.runner import Gateway, GatewayConfig, HeldStream
from rtms.gateway.segments import Segment, Written
from rtms.lifecycle import StreamState
from rtms.zoom.media import MediaClientConfig
from rtms.zoom.transport import OutcomeKind, SessionOutcome

SID = 7


class RecordingMoves:
    def __init__(self, *, fail: bool = False) -> None:
        self.moves: list[Move] = []
        self.fail = fail

    def submit(self, move: Move) -> asyncio.Future[None]:
        if self.fail:
            raise RuntimeError("move writer broken")
        self.moves.append(move)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class FinishedConnection:
    def __init__(self, outcome: SessionOutcome) -> None:
        self.outcome = outcome

    async def run(self, stop: asyncio.Event) -> SessionOutcome:
        return self.outcome


def _database_down(fn: Callable[..., Any]) -> Callable[..., Any]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly")

    return call


@pytest.fixture
def database_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "db", _database_down)


def _gateway(moves: RecordingMoves) -> tuple[Gateway, HeldStream]:
    gateway = Gateway(
        GatewayConfig(
            region_code="eu",
            owner="gw-test",
            lease_ttl=timedelta(seconds=30),
            renew_every_s=5.0,
            poll_every_s=5.0,
            capacity=10,
            flush_interval_s=0.2,
            flush_max_rows=100,
            media=MediaClientConfig(),
        )
    )
    gateway.moves = moves  # type: ignore[assignment]
    claim = Claim(
        stream_id=SID,
        rtms_stream_id="stream-7",
        meeting_id=3,
        server_urls=("wss://rtms.example/1",),
        server_generation=1,
        lease_token=11,
        state="connecting",
    )
    held = HeldStream(claim=claim, region_code="eu", meeting_uuid="uuid-3", generation=1)
    gateway.held[SID] = held
    return gateway, held


@pytest.mark.parametrize("kind", [OutcomeKind.FAILED, OutcomeKind.REFUSED])
async def test_a_failed_stream_is_still_failed_and_let_go_when_its_error_cannot_be_saved(
    database_down: None, kind: OutcomeKind
) -> None:
    moves = RecordingMoves()
    gateway, held = _gateway(moves)
    await gateway._finish(held, SessionOutcome(kind=kind, error="HandshakeRefused"))
    assert [(m.stream_id, m.targets) for m in moves.moves] == [(SID, (StreamState.FAILED,))]
    assert SID not in gateway.held


async def test_a_duplicate_refusal_that_cannot_be_recorded_lets_the_lease_lapse(database_down: None) -> None:
    moves = RecordingMoves()
    gateway, held = _gateway(moves)
    await gateway._finish(held, SessionOutcome(kind=OutcomeKind.DUPLICATE))
    assert moves.moves == []  # undecided: not failed on a database error
    assert SID not in gateway.held  # no longer renewed, so another claim can ask Zoom again


async def test_any_error_while_finishing_still_lets_the_stream_go() -> None:
    gateway, held = _gateway(RecordingMoves(fail=True))
    held.connection = FinishedConnection(SessionOutcome(kind=OutcomeKind.STOPPED))  # type: ignore[assignment]
    await gateway._hold(held)
    assert SID not in gateway.held


async def test_a_stopped_streams_last_lines_are_written_before_its_lease_is_given_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue #19: released first, a stream's buffered lines were written after the lease went, so an
    erasure that waited for the lease could complete before them (tests/e2e/test_erasure_while_writing.py
    caught one such line). The flush comes first, and waits for a flush already under way."""
    order: list[str] = []

    def write_batch(batch: list[Any]) -> Written:
        order.append(f"write {len(batch)}")
        return Written(len(batch), frozenset())

    async def release(**kwargs: Any) -> bool:
        order.append("release")
        return True

    def run_db(fn: Callable[..., Any]) -> Callable[..., Any]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            if fn is stream_release:
                return await release(**kwargs)
            return None

        return call

    monkeypatch.setattr(runner, "db", run_db)
    monkeypatch.setattr("rtms.gateway.segments._write_batch", write_batch)
    gateway, held = _gateway(RecordingMoves())
    gateway.batcher.add(Segment("eu", 3, SID, 1, 1, "Anna", "the last line", 0, None, None))
    await gateway._finish(held, SessionOutcome(kind=OutcomeKind.STOPPED, stop_reason=6))
    assert order == ["write 1", "release"]
