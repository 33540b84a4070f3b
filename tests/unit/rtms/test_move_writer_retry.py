"""MoveWriter's retry after a lost database connection: it resumes at the move that failed and never
repeats one that was stored (a repeated CONNECTING after CONNECTED would move a stream backwards)."""

from __future__ import annotations

import asyncio

import pytest
from django.db import OperationalError

from rtms.gateway import moves as moves_module
from rtms.gateway.moves import Move, MoveWriter
from rtms.lifecycle import StreamState


def test_a_lost_connection_is_retried_from_the_move_that_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    applied: list[tuple[int, str]] = []
    failures = iter([True])  # the second move fails once, as if the connection dropped under it

    def apply_move(move: Move) -> None:
        if move.cause == "second" and next(failures, False):
            raise OperationalError("server closed the connection unexpectedly")
        applied.append((move.stream_id, move.cause))

    usable = iter([False])  # asked once, right after the failure: the connection is gone
    monkeypatch.setattr(moves_module, "apply_move", apply_move)
    monkeypatch.setattr("rtms.gateway.moves.connection.is_usable", lambda: next(usable, True))
    monkeypatch.setattr(moves_module, "RETRY_DELAYS_S", (0.01,))

    async def scenario() -> None:
        writer = MoveWriter()
        futures = [
            writer.submit(Move(1, (StreamState.CONNECTING,), cause=cause))
            for cause in ("first", "second", "third")
        ]
        stop = asyncio.Event()
        stop.set()
        await asyncio.wait_for(writer.run(stop), 10)
        assert all(f.done() for f in futures)

    asyncio.run(scenario())
    assert applied == [(1, "first"), (1, "second"), (1, "third")]
