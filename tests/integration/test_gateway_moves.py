"""The gateway's lifecycle move writer: moves applied in submission order, in batches, one savepoint per move,
on real PostgreSQL (the writer works on its own worker threads, so the tests are transactional)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from regions.models import Region
from rtms.gateway.moves import Move, MoveWriter
from rtms.lifecycle import StreamState
from rtms.models import RtmsStream, StreamTransition
from tests.integration.conftest import EU_ALIAS, MakeMeeting, MakeStream
from tests.integration.worker_threads import owned_default_executor

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", EU_ALIAS])

TIMEOUT = 30
MISSING_STREAM_ID = 2_000_000_000


@pytest.fixture(autouse=True)
async def _worker_threads() -> AsyncIterator[None]:
    async with owned_default_executor():
        yield


@asynccontextmanager
async def _running(writer: MoveWriter) -> AsyncIterator[asyncio.Task[None]]:
    """The writer running until the block ends; then stopped, drained and awaited (its errors surface)."""
    stop = asyncio.Event()
    task = asyncio.create_task(writer.run(stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, TIMEOUT)


async def _done(*futures: asyncio.Future[None]) -> None:
    await asyncio.wait_for(asyncio.gather(*futures), TIMEOUT)


@sync_to_async
def _state(stream_id: int) -> str:
    return str(RtmsStream.objects.values_list("state", flat=True).get(pk=stream_id))


@sync_to_async
def _history(stream_id: int) -> list[tuple[str, str, str]]:
    return list(
        StreamTransition.objects.filter(stream_id=stream_id)
        .order_by("id")
        .values_list("from_state", "to_state", "cause")
    )


@pytest.mark.parametrize("max_batch", [1, 100], ids=["batch-of-one", "one-batch"])
async def test_moves_of_a_stream_are_applied_in_submission_order(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream, max_batch: int
) -> None:
    stream = await sync_to_async(make_stream)(
        await sync_to_async(make_meeting)(eu), duplicate_since=timezone.now()
    )
    writer = MoveWriter(max_batch=max_batch)
    futures = [
        writer.submit(Move(stream.pk, (StreamState.CONNECTING,), cause="gateway.claimed")),
        writer.submit(Move(stream.pk, (StreamState.CONNECTED,), cause="gateway.ready", ready=True)),
        writer.submit(Move(stream.pk, (StreamState.INTERRUPTED,), cause="gateway.socket_closed")),
        writer.submit(Move(stream.pk, (StreamState.CONNECTING,), cause="gateway.reconnect")),
        writer.submit(Move(stream.pk, (StreamState.CONNECTED,), cause="gateway.ready", ready=True)),
    ]
    async with _running(writer):
        await _done(*futures)
    assert await _history(stream.pk) == [
        ("wanted", "connecting", "gateway.claimed"),
        ("connecting", "connected", "gateway.ready"),
        ("connected", "interrupted", "gateway.socket_closed"),
        ("interrupted", "connecting", "gateway.reconnect"),
        ("connecting", "connected", "gateway.ready"),
    ]
    row = await sync_to_async(RtmsStream.objects.get)(pk=stream.pk)
    assert row.state == StreamState.CONNECTED
    assert row.duplicate_since is None, "a ready move forgets earlier duplicate refusals"


async def test_a_move_the_lifecycle_forbids_is_skipped_and_the_batch_goes_on(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    meeting = await sync_to_async(make_meeting)(eu)
    failed = await sync_to_async(make_stream)(meeting, state=StreamState.FAILED, stop_reason=18)
    wanted = await sync_to_async(make_stream)(meeting)
    other = await sync_to_async(make_stream)(meeting)
    writer = MoveWriter()
    futures = [
        writer.submit(Move(failed.pk, (StreamState.CONNECTED,), cause="gateway.late")),
        # A forbidden target is skipped, the next target of the same move still applies.
        writer.submit(
            Move(wanted.pk, (StreamState.CONNECTED, StreamState.CONNECTING), cause="gateway.mixed")
        ),
        writer.submit(Move(other.pk, (StreamState.CONNECTING,), cause="gateway.claimed")),
    ]
    async with _running(writer):
        await _done(*futures)
    assert await _state(failed.pk) == StreamState.FAILED
    assert await _history(failed.pk) == []
    assert await _history(wanted.pk) == [("wanted", "connecting", "gateway.mixed")]
    assert await _state(other.pk) == StreamState.CONNECTING


async def test_a_move_for_a_missing_stream_undoes_no_other_move_and_the_writer_goes_on(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    meeting = await sync_to_async(make_meeting)(eu)
    before = await sync_to_async(make_stream)(meeting)
    after = await sync_to_async(make_stream)(meeting)
    writer = MoveWriter()
    async with _running(writer) as task:
        await _done(
            writer.submit(Move(before.pk, (StreamState.CONNECTING,), cause="gateway.claimed")),
            writer.submit(Move(MISSING_STREAM_ID, (StreamState.CONNECTING,), cause="gateway.claimed")),
            writer.submit(Move(after.pk, (StreamState.CONNECTING,), cause="gateway.claimed")),
        )
        assert await _state(before.pk) == StreamState.CONNECTING
        assert await _state(after.pk) == StreamState.CONNECTING
        assert not task.done(), "the writer must survive a vanished row"
        await _done(writer.submit(Move(before.pk, (StreamState.CONNECTED,), cause="gateway.ready")))
        assert await _state(before.pk) == StreamState.CONNECTED


async def test_run_drains_the_moves_submitted_before_stop(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    meeting = await sync_to_async(make_meeting)(eu)
    streams = [await sync_to_async(make_stream)(meeting) for _ in range(5)]
    writer = MoveWriter(max_batch=3)
    futures = []
    for stream in streams:
        futures.append(writer.submit(Move(stream.pk, (StreamState.CONNECTING,), cause="gateway.claimed")))
        futures.append(writer.submit(Move(stream.pk, (StreamState.CONNECTED,), cause="gateway.ready")))
    assert writer.backlog == 10
    stop = asyncio.Event()
    stop.set()  # stopped before it ever ran: everything queued must still be written
    await asyncio.wait_for(writer.run(stop), TIMEOUT)
    assert all(f.done() and f.exception() is None for f in futures)
    assert writer.backlog == 0
    for stream in streams:
        assert await _state(stream.pk) == StreamState.CONNECTED


async def test_run_stopped_while_idle_still_writes_what_was_just_submitted(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    stream = await sync_to_async(make_stream)(await sync_to_async(make_meeting)(eu))
    writer = MoveWriter()
    stop = asyncio.Event()
    task = asyncio.create_task(writer.run(stop))
    await asyncio.sleep(0.05)  # let it go idle, waiting for work
    done = writer.submit(Move(stream.pk, (StreamState.CONNECTING,), cause="gateway.claimed"))
    stop.set()
    await asyncio.wait_for(task, TIMEOUT)
    assert done.done()
    assert await _state(stream.pk) == StreamState.CONNECTING


async def test_a_submitted_move_is_stored_once_its_future_is_done(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    stream = await sync_to_async(make_stream)(await sync_to_async(make_meeting)(eu))
    writer = MoveWriter()
    async with _running(writer):
        for target, cause in [
            (StreamState.CONNECTING, "gateway.claimed"),
            (StreamState.CONNECTED, "gateway.ready"),
            (StreamState.STOPPED, "gateway.finished"),
        ]:
            done = writer.submit(Move(stream.pk, (target,), cause=cause, stop_reason=None))
            assert not done.done()
            await _done(done)
            # No waiting beyond the future: the row must already be committed and visible.
            assert await _state(stream.pk) == target
        assert writer.backlog == 0
