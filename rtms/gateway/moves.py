"""The lifecycle moves a gateway's media clients report, written in order, in batches, off their path.

A media client must never wait for the database: its CONNECTING status used to be written before the
signaling socket opened, so under a ramp of hundreds of streams every connect queued behind everyone
else's state changes on the one database thread (docs/benchmarks.md, "Figures behind the code"). Now a status
is queued and the client goes on; one writer applies the queue in arrival order, up to ``max_batch`` moves
per trip to a worker thread. Each move is its own transaction, as ``stream_transition`` makes it: a
batch-wide transaction needed a savepoint per move to keep one failing move from undoing the others, and
the savepoints cost as many round trips as the moves themselves.

Order per stream is kept (one queue, one writer). A caller that must know a move is stored before it goes
on (a stream finishing, then releasing its lease) awaits the future ``submit`` returns.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.db import DatabaseError, close_old_connections, connection

from rtms.gateway.claims import stream_ready
from rtms.lifecycle import StreamState
from rtms.services import IllegalTransition, stream_transition

logger = logging.getLogger(__name__)

# A database that fails a batch is tried again after these pauses, then the batch is given up (logged):
# the watch loop and the reconciler correct a state that was not stored.
RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0)


@dataclass(frozen=True)
class Move:
    stream_id: int
    targets: tuple[StreamState, ...]  # tried in order; a move the lifecycle no longer allows is skipped
    cause: str
    stop_reason: int | None = None
    ready: bool = False  # the stream is ours again: forget earlier duplicate refusals
    # The stream lease token the gateway held when it decided the move: a move is stored only while that
    # token is the stream's newest (fencing), so a gateway that lost the stream never moves it.
    lease_token: int | None = None


def apply_move(move: Move) -> None:
    if move.ready:
        stream_ready(move.stream_id, lease_token=move.lease_token)
    for target in move.targets:
        try:
            stream_transition(
                move.stream_id,
                target,
                cause=move.cause,
                stop_reason=move.stop_reason,
                lease_token=move.lease_token,
            )
        except IllegalTransition:
            continue


def apply_moves(moves: list[Move], progress: list[int]) -> None:
    """Apply ``moves`` in order, each in its own transaction. A move that fails on its own (a vanished
    row, say) is logged and skipped. A lost connection raises, with ``progress[0]`` moves done: the caller
    retries from there, never repeating a move that was stored."""
    close_old_connections()
    for move in moves:
        try:
            apply_move(move)
        except DatabaseError as exc:
            if not connection.is_usable():
                raise
            _failed(move, exc)
        except (
            Exception
        ) as exc:  # the stream's row is gone (ObjectDoesNotExist: erased), or a bug: this move only
            _failed(move, exc)
        progress[0] += 1


def _failed(move: Move, exc: Exception) -> None:
    logger.warning(
        "gateway.transition_failed", extra={"stream_id": move.stream_id, "error": type(exc).__name__}
    )


class MoveWriter:
    def __init__(self, *, max_batch: int = 100) -> None:
        self._max_batch = max_batch
        self._queue: list[tuple[Move, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()

    def submit(self, move: Move) -> asyncio.Future[None]:
        """Queue ``move``; the future is done once it was applied (or given up). Never raises."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((move, done))
        self._wake.set()
        return done

    @property
    def backlog(self) -> int:
        return len(self._queue)

    async def run(self, stop: asyncio.Event) -> None:
        """Apply the queue until ``stop``, then drain what is left."""
        while not stop.is_set():
            if not self._queue:
                waiter = asyncio.create_task(self._wake.wait())
                stopper = asyncio.create_task(stop.wait())
                try:
                    await asyncio.wait((waiter, stopper), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                    stopper.cancel()
                self._wake.clear()
                continue
            await self._apply_next()
        while self._queue:
            await self._apply_next()

    async def _apply_next(self) -> None:
        batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
        moves = [move for move, _ in batch]
        progress = [0]
        try:
            for delay in (*RETRY_DELAYS_S, None):
                try:
                    # Its own worker thread and connection, like the segment flushes: the claims and lease
                    # renewals on the shared database thread must not wait for a batch of moves.
                    await sync_to_async(apply_moves, thread_sensitive=False)(moves[progress[0] :], progress)
                    break
                except Exception as exc:  # a database error, or a bug: either way the writer must live on
                    if delay is None or not isinstance(exc, DatabaseError):
                        logger.warning(
                            "gateway.moves_given_up",
                            extra={"moves": len(moves) - progress[0], "error": type(exc).__name__},
                        )
                        break
                    logger.warning(
                        "gateway.moves_retry",
                        extra={"moves": len(moves) - progress[0], "error": type(exc).__name__},
                    )
                    await asyncio.sleep(delay)
        finally:
            for _, done in batch:
                if not done.done():
                    done.set_result(None)
