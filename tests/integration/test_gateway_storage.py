"""Gateway storage: stream leases (claim, renew, fencing) and batched segment writes into the region."""

from __future__ import annotations

from datetime import timedelta

import pytest

from regions.models import Region
from rtms.gateway.claims import Claim, stream_claim, stream_release, stream_renew
from rtms.gateway.segments import Segment, segment_next_seqs, segments_write
from rtms.models import RtmsStream, TranscriptSegment
from tests.eventually import eventually
from tests.integration.conftest import EU_ALIAS, MakeMeeting, MakeStream

pytestmark = pytest.mark.django_db(databases=["default", EU_ALIAS])

TTL = timedelta(seconds=30)


def _segment(stream: RtmsStream, seq: int, text: str = "hello") -> Segment:
    assert stream.region is not None
    return Segment(
        stream.region.code, stream.meeting_id, stream.pk, seq, 7, "Anna", text, seq * 1000, None, 9
    )


def test_a_wanted_stream_is_claimed_by_exactly_one_gateway(
    eu: Region, make_meeting: MakeMeeting, make_held_stream: MakeStream
) -> None:
    stream = make_held_stream(make_meeting(eu), server_urls=["ws://x/1"])
    first = stream_claim(region_id=eu.pk, owner="gw-a", ttl=TTL, limit=10)
    assert [c.stream_id for c in first] == [stream.pk]
    assert first[0].server_urls == ("ws://x/1",) and first[0].lease_token == 1
    assert stream_claim(region_id=eu.pk, owner="gw-b", ttl=TTL, limit=10) == []


def test_gateways_claim_only_their_regions_streams(
    eu: Region, us: Region, make_meeting: MakeMeeting, make_held_stream: MakeStream
) -> None:
    make_held_stream(make_meeting(us))
    assert stream_claim(region_id=eu.pk, owner="gw-eu", ttl=TTL, limit=10) == []


def test_terminal_streams_are_never_claimed(
    eu: Region, make_meeting: MakeMeeting, make_held_stream: MakeStream
) -> None:
    make_held_stream(make_meeting(eu), state="stopped", stop_reason=6)
    assert stream_claim(region_id=eu.pk, owner="gw-a", ttl=TTL, limit=10) == []


def test_a_lapsed_lease_passes_on_and_fences_the_old_holder(
    eu: Region, make_meeting: MakeMeeting, make_held_stream: MakeStream
) -> None:
    stream = make_held_stream(make_meeting(eu))
    (old,) = stream_claim(region_id=eu.pk, owner="gw-a", ttl=timedelta(milliseconds=50), limit=1)
    taken: list[Claim] = eventually(
        lambda: stream_claim(region_id=eu.pk, owner="gw-b", ttl=TTL, limit=1),
        timeout=10,
        what="the lapsed lease taken",
    )
    assert [c.stream_id for c in taken] == [stream.pk] and taken[0].lease_token == old.lease_token + 1
    assert stream_renew(owner="gw-a", held={stream.pk: old.lease_token}, ttl=TTL) == set()
    assert not stream_release(owner="gw-a", stream_id=stream.pk, token=old.lease_token)
    assert stream_renew(owner="gw-b", held={stream.pk: taken[0].lease_token}, ttl=TTL) == {stream.pk}


def test_release_frees_the_stream_for_another_gateway_at_once(
    eu: Region, make_meeting: MakeMeeting, make_held_stream: MakeStream
) -> None:
    stream = make_held_stream(make_meeting(eu))
    (claim,) = stream_claim(region_id=eu.pk, owner="gw-a", ttl=TTL, limit=1)
    assert stream_release(owner="gw-a", stream_id=stream.pk, token=claim.lease_token)
    assert [c.stream_id for c in stream_claim(region_id=eu.pk, owner="gw-b", ttl=TTL, limit=1)] == [stream.pk]


def test_segments_land_in_the_region_database_once_with_continuing_seq(
    eu: Region, make_meeting: MakeMeeting, make_held_stream: MakeStream
) -> None:
    stream = make_held_stream(make_meeting(eu))
    assert segment_next_seqs("eu-central", [stream.pk]) == {stream.pk: 1}
    batch = [_segment(stream, 1, "one"), _segment(stream, 2, "two")]
    assert segments_write(batch).new == 2
    assert segments_write(batch).new == 0  # a retried batch is not stored twice
    assert segment_next_seqs("eu-central", [stream.pk]) == {stream.pk: 3}
    stored = TranscriptSegment.objects.using(EU_ALIAS).filter(stream_id=stream.pk).order_by("seq")
    assert [s.text for s in stored] == ["one", "two"]
    assert not TranscriptSegment.objects.using("default").filter(stream_id=stream.pk).exists()


def test_a_batch_mixing_regions_is_refused(
    eu: Region, us: Region, make_meeting: MakeMeeting, make_held_stream: MakeStream
) -> None:
    a = make_held_stream(make_meeting(eu))
    b = make_held_stream(make_meeting(us))
    with pytest.raises(ValueError, match="one region"):
        segments_write([_segment(a, 1), _segment(b, 1)])


def test_duplicate_refusals_give_up_only_after_the_window_and_a_ready_forgets_them(
    eu: Region, make_meeting: MakeMeeting, make_held_stream: MakeStream
) -> None:
    from django.utils import timezone

    from rtms.gateway.claims import stream_duplicate_refused, stream_ready

    stream = make_held_stream(make_meeting(eu))
    window = timedelta(seconds=60)
    assert not stream_duplicate_refused(stream.pk, window=window)  # the first refusal starts the clock
    first = RtmsStream.objects.get(pk=stream.pk).duplicate_since
    assert first is not None
    assert not stream_duplicate_refused(stream.pk, window=window)
    assert RtmsStream.objects.get(pk=stream.pk).duplicate_since == first, "the clock is not restarted"
    RtmsStream.objects.filter(pk=stream.pk).update(duplicate_since=timezone.now() - timedelta(seconds=61))
    assert stream_duplicate_refused(stream.pk, window=window)
    stream_ready(stream.pk)
    assert RtmsStream.objects.get(pk=stream.pk).duplicate_since is None
    assert not stream_duplicate_refused(stream.pk, window=window)
