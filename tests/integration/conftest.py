from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from regions.models import Region
from regions.storage import content_alias
from rtms.gateway.segments import Writer, segments_fence
from rtms.models import Meeting, RtmsStream, TranscriptSegment
from rtms.personal import details_of, details_save

_counter = itertools.count(1)

EU_ALIAS = "region_eu_central"

MakeMeeting = Callable[..., Meeting]
MakeStream = Callable[..., RtmsStream]
AddSegments = Callable[[RtmsStream, list[tuple[str, str]]], list[TranscriptSegment]]


def _region(code: str, name: str) -> Region:
    # get_or_create: transactional tests truncate tables, data-migration rows included.
    region, _ = Region.objects.get_or_create(code=code, defaults={"name": name, "jurisdiction": name})
    return region


@pytest.fixture
def eu() -> Region:
    return _region("eu-central", "EU Central")


@pytest.fixture
def us() -> Region:
    return _region("us-east", "US East")


@pytest.fixture
def make_meeting() -> MakeMeeting:
    def make(region: Region | None, **fields: Any) -> Meeting:
        """A meeting as the product stores it: topic and host e-mail in its region's database, the
        e-mail's hash and domain in control (rtms/personal.py); a quarantined one keeps no text."""
        n = next(_counter)
        topic = fields.pop("topic", f"Meeting {n}")
        host_email = fields.pop("host_email", f"host{n}@example.com")
        defaults: dict[str, Any] = {
            # Real Zoom uuids carry / + = ; so do ours, to keep the URL-safety promise honest.
            "zoom_uuid": f"a/b+{n}c==",
            "zoom_meeting_id": 8_000_000_000 + n,
            "region": region,
            "routing_status": "routed" if region else "quarantined",
        }
        defaults.update(fields)
        meeting = Meeting.objects.create(**defaults)
        details_save(meeting, topic=topic, host_email=host_email)
        meeting.refresh_from_db()
        return meeting

    return make


@pytest.fixture
def make_stream() -> MakeStream:
    def make(meeting: Meeting, **fields: Any) -> RtmsStream:
        defaults: dict[str, Any] = {
            "rtms_stream_id": f"{next(_counter):032x}",
            "meeting": meeting,
            "region": meeting.region,
        }
        defaults.update(fields)
        return RtmsStream.objects.create(**defaults)

    return make


@pytest.fixture
def make_held_stream(make_stream: MakeStream) -> MakeStream:
    """A stream as a gateway holds it with lease token 0, the token test segments carry by default: its
    segments may be written (rtms/gateway/segments.py refuses those of a stream nobody fenced)."""

    def make(meeting: Meeting, **fields: Any) -> RtmsStream:
        stream = make_stream(meeting, **fields)
        if stream.region is not None:
            segments_fence(stream.region.code, [Writer(stream.pk, stream.meeting_id, 0)])
        return stream

    return make


@pytest.fixture
def add_segments() -> AddSegments:
    def add(stream: RtmsStream, texts: list[tuple[str, str]]) -> list[TranscriptSegment]:
        assert stream.region is not None
        code = stream.region.code
        rows = [
            TranscriptSegment(
                region_code=code,
                meeting_id=stream.meeting_id,
                stream_id=stream.pk,
                seq=i,
                speaker_id=100 + i,
                speaker_name=speaker,
                text=text,
                start_ms=1000 * i,
                end_ms=1000 * i + 900,
                language=9,
            )
            for i, (speaker, text) in enumerate(texts, start=1)
        ]
        return TranscriptSegment.objects.using(content_alias(code)).bulk_create(rows)

    return add


def personal(meeting_pk: int) -> tuple[str, str, str]:
    """(host e-mail, topic, e-mail hash) of a meeting as stored: the text in its region's database, the
    hash in control (issue #19)."""
    meeting = Meeting.objects.select_related("region").get(pk=meeting_pk)
    details = details_of(meeting)
    return (details.host_email if details else "", details.topic if details else "", meeting.host_email_hash)
