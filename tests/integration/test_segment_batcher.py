"""The gateway's segment batcher on real PostgreSQL: every segment stored once in its region, published to the
live page only after its batch committed, in commit order, and a slow or failing publish never holds up the
batches behind it. Also the one-statement batch write and the next-seq lookup."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from asgiref.sync import sync_to_async

from regions.models import Region
from regions.storage import content_alias
from rtms.gateway import segments as segments_module
from rtms.gateway.segments import Segment, SegmentBatcher, segment_next_seqs, segments_write
from rtms.models import RtmsStream, TranscriptSegment
from tests.eventually import eventually_async
from tests.integration.conftest import EU_ALIAS, AddSegments, MakeMeeting, MakeStream
from tests.integration.worker_threads import owned_default_executor

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", EU_ALIAS])

TIMEOUT = 30

Key = tuple[int, int]  # (stream_id, seq)


@pytest.fixture(autouse=True)
async def _worker_threads() -> AsyncIterator[None]:
    async with owned_default_executor():
        yield


def _segment(stream: RtmsStream, seq: int, text: str | None = None) -> Segment:
    assert stream.region is not None
    return Segment(
        stream.region.code,
        stream.meeting_id,
        stream.pk,
        seq,
        7,
        "Anna",
        text if text is not None else f"line {seq}",
        seq * 1000,
        seq * 1000 + 900,
        9,
    )


def _keys(batch: list[Segment]) -> list[Key]:
    return [(s.stream_id, s.seq) for s in batch]


@sync_to_async
def _stored(stream_ids: list[int], alias: str = EU_ALIAS) -> list[Key]:
    """Every stored row of these streams in a region's database (duplicates would show twice)."""
    return list(
        TranscriptSegment.objects.using(alias)
        .filter(stream_id__in=stream_ids)
        .order_by("stream_id", "seq")
        .values_list("stream_id", "seq")
    )


class Recorder:
    """A publish callable that notes each batch and which of its rows were committed when it was called."""

    def __init__(self) -> None:
        self.batches: list[list[Segment]] = []
        self.visible: list[set[Key]] = []

    async def __call__(self, batch: list[Segment]) -> None:
        self.batches.append(batch)
        stream_ids = sorted({s.stream_id for s in batch})
        alias = content_alias(batch[0].region_code)
        self.visible.append(set(await _stored(stream_ids, alias)) & set(_keys(batch)))


async def test_run_stores_every_segment_once_and_publishes_each_batch_after_its_commit_in_order(
    eu: Region, make_meeting: MakeMeeting, make_held_stream: MakeStream
) -> None:
    meeting = await sync_to_async(make_meeting)(eu)
    streams = [await sync_to_async(make_held_stream)(meeting) for _ in range(3)]
    recorder = Recorder()
    batcher = SegmentBatcher(interval_s=0.02, max_rows=7, publish=recorder)
    stop = asyncio.Event()
    task = asyncio.create_task(batcher.run(stop))
    added: list[Segment] = []
    for seq in range(1, 21):
        for stream in streams:
            segment = _segment(stream, seq)
            batcher.add(segment)
            added.append(segment)
        if seq % 4 == 0:
            await asyncio.sleep(0.03)  # let some flushes happen while segments keep arriving
    stop.set()
    await asyncio.wait_for(task, TIMEOUT)

    ids = [s.pk for s in streams]
    assert await _stored(ids) == sorted(_keys(added)), "every segment stored, exactly once"
    published = [segment for batch in recorder.batches for segment in batch]
    assert published == added, "each segment published once, batches in commit (= arrival) order"
    assert len(recorder.batches) > 1, "the test meant to cover several batches"
    for batch, visible in zip(recorder.batches, recorder.visible, strict=True):
        assert visible == set(_keys(batch)), "a batch is published only once all its rows are committed"


async def test_published_waits_for_every_committed_batch(
    eu: Region, make_meeting: MakeMeeting, make_held_stream: MakeStream
) -> None:
    stream = await sync_to_async(make_held_stream)(await sync_to_async(make_meeting)(eu))
    release = asyncio.Event()
    seen: list[list[Key]] = []

    async def slow_publish(batch: list[Segment]) -> None:
        await release.wait()
        seen.append(_keys(batch))

    batcher = SegmentBatcher(interval_s=60, max_rows=1000, publish=slow_publish)
    await batcher.published()  # nothing committed yet: returns at once
    for seq in (1, 2, 3):
        batcher.add(_segment(stream, seq))
        await batcher.flush()
    assert await _stored([stream.pk]) == [(stream.pk, 1), (stream.pk, 2), (stream.pk, 3)]
    assert seen == [], "the flushes did not wait for the publish"
    release.set()
    await asyncio.wait_for(batcher.published(), TIMEOUT)
    assert seen == [[(stream.pk, 1)], [(stream.pk, 2)], [(stream.pk, 3)]]


async def test_a_failing_or_hanging_publish_does_not_stop_later_batches(
    eu: Region, make_meeting: MakeMeeting, make_held_stream: MakeStream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(segments_module, "PUBLISH_TIMEOUT_S", 0.2)
    stream = await sync_to_async(make_held_stream)(await sync_to_async(make_meeting)(eu))
    calls: list[list[Key]] = []
    hang_cancelled = asyncio.Event()

    async def flaky_publish(batch: list[Segment]) -> None:
        calls.append(_keys(batch))
        if len(calls) == 1:
            raise ConnectionError("redis went away")
        if len(calls) == 2:
            try:
                await asyncio.Event().wait()  # never returns: only the timeout ends it
            except asyncio.CancelledError:
                hang_cancelled.set()
                raise

    def publishes_started(count: int) -> Callable[[], bool]:
        return lambda: len(calls) >= count

    batcher = SegmentBatcher(interval_s=0.02, max_rows=1000, publish=flaky_publish)
    stop = asyncio.Event()
    task = asyncio.create_task(batcher.run(stop))
    for seq in range(1, 5):
        batcher.add(_segment(stream, seq))
        # One batch per segment: wait for its publish to start.
        await eventually_async(publishes_started(seq), timeout=TIMEOUT, what=f"batch {seq} published")
    stop.set()
    await asyncio.wait_for(task, TIMEOUT)

    assert await _stored([stream.pk]) == [(stream.pk, seq) for seq in range(1, 5)]
    assert calls == [[(stream.pk, seq)] for seq in range(1, 5)]
    assert hang_cancelled.is_set(), "the hanging publish was given up on"


async def test_publishes_beyond_the_backlog_are_dropped_but_every_batch_is_stored(
    eu: Region, make_meeting: MakeMeeting, make_held_stream: MakeStream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(segments_module, "PUBLISH_BACKLOG", 2)
    monkeypatch.setattr(segments_module, "PUBLISH_TIMEOUT_S", 60.0)
    stream = await sync_to_async(make_held_stream)(await sync_to_async(make_meeting)(eu))
    release = asyncio.Event()
    seen: list[list[Key]] = []

    async def blocked_publish(batch: list[Segment]) -> None:
        await release.wait()
        seen.append(_keys(batch))

    batcher = SegmentBatcher(interval_s=60, max_rows=1000, publish=blocked_publish)
    for seq in range(1, 5):
        batcher.add(_segment(stream, seq))
        await batcher.flush()
    assert await _stored([stream.pk]) == [(stream.pk, seq) for seq in range(1, 5)]
    release.set()
    await asyncio.wait_for(batcher.published(), TIMEOUT)
    assert seen == [[(stream.pk, 1)], [(stream.pk, 2)]]
    # The backlog drained: publishing resumes.
    batcher.add(_segment(stream, 5))
    await batcher.flush()
    await asyncio.wait_for(batcher.published(), TIMEOUT)
    assert seen[-1] == [(stream.pk, 5)]


async def test_each_regions_batch_is_stored_in_its_own_database_and_published_after_commit(
    eu: Region, us: Region, make_meeting: MakeMeeting, make_held_stream: MakeStream
) -> None:
    eu_stream = await sync_to_async(make_held_stream)(await sync_to_async(make_meeting)(eu))
    us_stream = await sync_to_async(make_held_stream)(await sync_to_async(make_meeting)(us))
    recorder = Recorder()
    batcher = SegmentBatcher(interval_s=60, max_rows=1000, publish=recorder)
    for seq in (1, 2):
        batcher.add(_segment(eu_stream, seq))
        batcher.add(_segment(us_stream, seq))
    await batcher.flush()
    await asyncio.wait_for(batcher.published(), TIMEOUT)

    ids = [eu_stream.pk, us_stream.pk]
    assert await _stored(ids, EU_ALIAS) == [(eu_stream.pk, 1), (eu_stream.pk, 2)]
    assert await _stored(ids, "default") == [(us_stream.pk, 1), (us_stream.pk, 2)]
    assert sorted(map(_keys, recorder.batches)) == sorted(
        [[(eu_stream.pk, 1), (eu_stream.pk, 2)], [(us_stream.pk, 1), (us_stream.pk, 2)]]
    )
    for batch, visible in zip(recorder.batches, recorder.visible, strict=True):
        assert len({s.region_code for s in batch}) == 1, "one region per batch"
        assert visible == set(_keys(batch)), "published after its region committed"


async def test_segment_next_seqs_is_one_without_rows_and_max_plus_one_otherwise(
    eu: Region, make_meeting: MakeMeeting, make_held_stream: MakeStream, add_segments: AddSegments
) -> None:
    meeting = await sync_to_async(make_meeting)(eu)
    empty, three, gapped = [await sync_to_async(make_held_stream)(meeting) for _ in range(3)]
    await sync_to_async(add_segments)(three, [("Anna", "a"), ("Ben", "b"), ("Anna", "c")])
    await sync_to_async(segments_write)([_segment(gapped, 2), _segment(gapped, 9)])
    assert await sync_to_async(segment_next_seqs)("eu-central", [empty.pk, three.pk, gapped.pk]) == {
        empty.pk: 1,
        three.pk: 4,
        gapped.pk: 10,
    }
    assert await sync_to_async(segment_next_seqs)("eu-central", []) == {}
    # Rows are looked up in the region's own database only.
    assert await sync_to_async(segment_next_seqs)("us-east", [three.pk]) == {three.pk: 1}


async def test_segments_write_stores_every_column_and_counts_only_new_rows(
    eu: Region, make_meeting: MakeMeeting, make_held_stream: MakeStream
) -> None:
    stream = await sync_to_async(make_held_stream)(await sync_to_async(make_meeting)(eu))
    full = _segment(stream, 1, "ünïcode, 'quotes' and {braces}")
    sparse = Segment("eu-central", stream.meeting_id, stream.pk, 2, None, "B" * 250, "", None, None, None)
    assert (await sync_to_async(segments_write)([full, sparse])).new == 2
    assert (await sync_to_async(segments_write)([sparse, _segment(stream, 3)])).new == 1, "only seq 3 is new"

    @sync_to_async
    def rows() -> list[tuple[object, ...]]:
        return list(
            TranscriptSegment.objects.using(EU_ALIAS)
            .filter(stream_id=stream.pk)
            .order_by("seq")
            .values_list(
                "region_code",
                "meeting_id",
                "seq",
                "speaker_id",
                "speaker_name",
                "text",
                "start_ms",
                "end_ms",
                "language",
            )
        )

    assert await rows() == [
        ("eu-central", stream.meeting_id, 1, 7, "Anna", full.text, 1000, 1900, 9),
        ("eu-central", stream.meeting_id, 2, None, "B" * 200, "", None, None, None),
        ("eu-central", stream.meeting_id, 3, 7, "Anna", "line 3", 3000, 3900, 9),
    ]
