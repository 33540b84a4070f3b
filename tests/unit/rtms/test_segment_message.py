"""What the live page receives for a segment: every field but the region code and the lease token (they stay
server-side)."""

from __future__ import annotations

from dataclasses import asdict

from rtms.gateway.segments import Segment


def test_the_live_message_carries_every_field_of_a_segment_except_its_region_and_lease() -> None:
    segment = Segment(
        region_code="eu-central",
        meeting_id=7,
        stream_id=11,
        seq=3,
        speaker_id=42,
        speaker_name="Ada",
        text="hello",
        start_ms=1000,
        end_ms=1500,
        language=9,
        lease_token=5,
    )
    expected = asdict(segment)
    expected.pop("region_code")
    expected.pop("lease_token")
    assert segment.as_message() == expected  # a field added to Segment must reach the page too
