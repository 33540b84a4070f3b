"""Fencing on real PostgreSQL: once a newer stream lease token is registered, a gateway holding an older one
can neither write the stream's segments nor move the stream, however late its write arrives; and a write
already under way when the fence moves is counted in the numbering the new holder continues."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.db import DatabaseError, connections

from regions.models import Region
from rtms.gateway import segments as segments_module
from rtms.gateway.moves import Move, apply_move
from rtms.gateway.segments import (
    Segment,
    SegmentBatcher,
    Writer,
    insert_parameters,
    segments_fence,
    segments_write,
)
from rtms.lifecycle import StreamState
from rtms.models import RtmsStream, TranscriptSegment
from tests.e2e.harness import database_url
from tests.integration.conftest import EU_ALIAS, MakeMeeting, MakeStream
from tests.integration.worker_threads import owned_default_executor

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", EU_ALIAS])


@pytest.fixture(autouse=True)
async def _worker_threads() -> AsyncIterator[None]:
    async with owned_default_executor():
        yield


def _segment(stream: RtmsStream, seq: int, token: int) -> Segment:
    return Segment(
        "eu-central", stream.meeting_id, stream.pk, seq, 7, "Anna", f"t{token} line {seq}", 0, None, 9, token
    )


def _fence(stream: RtmsStream, token: int) -> dict[int, int]:
    return segments_fence("eu-central", [Writer(stream.pk, stream.meeting_id, token)])


def _stored(stream: RtmsStream) -> list[tuple[int, str]]:
    return list(
        TranscriptSegment.objects.using(EU_ALIAS)
        .filter(stream_id=stream.pk)
        .order_by("seq")
        .values_list("seq", "text")
    )


def test_an_older_token_is_refused_once_a_newer_claim_fenced_the_stream(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    stream = make_stream(make_meeting(eu))
    assert segments_write([_segment(stream, 1, 1)]).fenced == {(stream.pk, 1)}, "nobody fenced it: refused"
    assert _fence(stream, 1) == {stream.pk: 1}
    assert segments_write([_segment(stream, 1, 1), _segment(stream, 2, 1)]).new == 2
    assert _fence(stream, 2) == {stream.pk: 3}, "the new holder continues the numbering"
    late = segments_write([_segment(stream, 3, 1)])
    assert late.new == 0 and late.fenced == {(stream.pk, 1)}
    assert segments_write([_segment(stream, 3, 2)]).new == 1
    assert _stored(stream) == [(1, "t1 line 1"), (2, "t1 line 2"), (3, "t2 line 3")]
    assert _fence(stream, 1) == {}, "a stale claim cannot move the fence back"
    assert segments_write([_segment(stream, 4, 1)]).fenced == {(stream.pk, 1)}


def test_a_write_under_way_when_the_fence_moves_counts_in_the_new_numbering(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    stream = make_stream(make_meeting(eu))
    _fence(stream, 1)
    segments_write([_segment(stream, 1, 1)])
    # The old holder's write, begun and not yet committed, on a connection of its own.
    old = psycopg.connect(database_url(str(connections[EU_ALIAS].settings_dict["NAME"]), server_of=EU_ALIAS))
    try:
        old.execute(
            segments_module._INSERT, insert_parameters([_segment(stream, 2, 1), _segment(stream, 3, 1)])
        )
        answer: dict[int, int] = {}
        taking_over = threading.Thread(target=lambda: answer.update(_fence_closing(stream, 2)))
        taking_over.start()
        taking_over.join(timeout=1.0)
        assert taking_over.is_alive(), "the fence waits for the write that holds the old token"
        old.commit()
        taking_over.join(timeout=30)
        assert answer == {stream.pk: 4}, "its rows are counted: the new holder goes on after them"
    finally:
        old.close()
    assert [seq for seq, _ in _stored(stream)] == [1, 2, 3]


def _fence_closing(stream: RtmsStream, token: int) -> dict[int, int]:
    try:
        return _fence(stream, token)
    finally:
        connections.close_all()


def test_a_move_holding_an_older_token_leaves_the_stream_alone(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    stream = make_stream(make_meeting(eu), state=StreamState.CONNECTED, lease_token=2)
    apply_move(Move(stream.pk, (StreamState.INTERRUPTED,), cause="gateway.interrupted", lease_token=1))
    stream.refresh_from_db()
    assert stream.state == StreamState.CONNECTED
    assert not stream.transitions.filter(cause="gateway.interrupted").exists()
    apply_move(Move(stream.pk, (StreamState.INTERRUPTED,), cause="gateway.interrupted", lease_token=2))
    stream.refresh_from_db()
    assert stream.state == StreamState.INTERRUPTED


async def test_the_batcher_drops_fenced_rows_unpublished_and_names_their_streams(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    meeting = await sync_to_async(make_meeting)(eu)
    lost, kept = [await sync_to_async(make_stream)(meeting) for _ in range(2)]
    await sync_to_async(_fence)(lost, 1)
    await sync_to_async(_fence)(kept, 1)
    published: list[Segment] = []
    fenced: list[frozenset[tuple[int, int]]] = []
    discarded: list[tuple[str, str, int]] = []

    async def publish(batch: list[Segment]) -> None:
        published.extend(batch)

    batcher = SegmentBatcher(
        interval_s=60,
        max_rows=1000,
        publish=publish,
        on_fenced=fenced.append,
        on_discarded=lambda region, why, n: discarded.append((region, why, n)),
    )
    await sync_to_async(_fence)(lost, 2)  # another gateway took `lost` over
    for seq in (1, 2):
        batcher.add(_segment(lost, seq, 1))
        batcher.add(_segment(kept, seq, 1))
    await batcher.flush()
    await asyncio.wait_for(batcher.published(), 30)
    assert fenced == [frozenset({(lost.pk, 1)})]
    assert discarded == [("eu-central", "fenced", 2)]
    assert [(s.stream_id, s.seq) for s in published] == [(kept.pk, 1), (kept.pk, 2)]
    assert await sync_to_async(_stored)(lost) == []
    assert len(await sync_to_async(_stored)(kept)) == 2


async def test_an_outage_is_buffered_up_to_the_bound_and_the_oldest_go_first(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = await sync_to_async(make_stream)(await sync_to_async(make_meeting)(eu))
    await sync_to_async(_fence)(stream, 1)
    real_write = segments_module._write_batch
    down = True

    def write(batch: list[Segment]) -> segments_module.Written:
        if down:
            raise DatabaseError("the region database is down")
        return real_write(batch)

    monkeypatch.setattr(segments_module, "_write_batch", write)
    discarded: list[tuple[str, str, int]] = []
    batcher = SegmentBatcher(
        interval_s=60,
        max_rows=1000,
        max_buffered=5,
        on_discarded=lambda region, why, n: discarded.append((region, why, n)),
    )
    for seq in range(1, 5):
        batcher.add(_segment(stream, seq, 1))
    await batcher.flush()  # fails: all four kept
    for seq in range(5, 8):
        batcher.add(_segment(stream, seq, 1))
    await batcher.flush()  # fails again: seven waiting, the two oldest go
    assert discarded == [("eu-central", "buffer_full", 2)]
    down = False
    await batcher.flush()
    assert [seq for seq, _ in await sync_to_async(_stored)(stream)] == [3, 4, 5, 6, 7]
