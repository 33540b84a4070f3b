"""Transcript export: JSON, plain text and WebVTT, read from the region's own database."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from compliance import export
from compliance.export import EXPORT_FORMATS, transcript_export
from regions.models import Region
from regions.storage import content_alias
from rtms.models import AuditLog, Meeting, RtmsStream, TranscriptSegment
from tests.integration.conftest import EU_ALIAS, AddSegments, MakeMeeting, MakeStream

pytestmark = pytest.mark.django_db(databases=["default", EU_ALIAS])

HOSTILE = [
    ("Mallory <script>", "a < b && c > d --> 00:00:00.000 --> 00:00:01.000"),
    ("Eve\n\nWEBVTT", "line one\r\n\r\nline two\u2028three\x1b[2J"),
    ('Bob "&amp;"', '{"json": "breaker"]}'),
    ("", "</v><v Someone else>forged"),
]

_TIMING = re.compile(r"^(\d{2,}):(\d{2}):(\d{2})\.(\d{3}) --> (\d{2,}):(\d{2}):(\d{2})\.(\d{3})$")
_ENTITY = re.compile(r"&(amp|lt|gt|nbsp|lrm|rlm);")


def _ms(h: str, m: str, s: str, ms: str) -> int:
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


def _vtt_cues(document: str) -> list[tuple[int, int, str, str]]:
    """A strict reading of the WebVTT file format (W3C WebVTT §4.1): returns (start, end, voice, text)."""
    assert document.startswith("WEBVTT\n\n"), "header"
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", document), "control characters"
    blocks = document[len("WEBVTT\n\n") :].split("\n\n")
    assert blocks[-1] == "", "file ends with a blank line after the last cue"
    cues = []
    previous_start = -1
    for block in blocks[:-1]:
        lines = block.split("\n")
        assert len(lines) == 3, f"id, timing, one text line: {lines!r}"
        identifier, timing, text = lines
        assert identifier and "-->" not in identifier
        match = _TIMING.match(timing)
        assert match, timing
        start, end = _ms(*match.groups()[:4]), _ms(*match.groups()[4:])
        assert end > start and start >= previous_start
        previous_start = start
        voice = re.match(r"^<v ([^<>\n]*)>(.*)$", text)
        assert voice, text
        name, body = voice.groups()
        for part in (name, body):
            assert "<" not in part and ">" not in part and "-->" not in part
            assert "&" not in _ENTITY.sub("", part), f"unescaped & in {part!r}"
        cues.append((start, end, name, body))
    return cues


def _unescape(value: str) -> str:
    return value.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _export(meeting: Meeting, fmt: str) -> str:
    return "".join(transcript_export(meeting, fmt))


@pytest.fixture
def eu_meeting(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream, add_segments: AddSegments
) -> Meeting:
    meeting = make_meeting(eu)
    add_segments(make_stream(meeting), [("Anna", "Guten Morgen"), ("Jörg", "Grüß Gott, 10 € & more")])
    return meeting


def test_every_format_is_declared_with_a_content_type() -> None:
    assert set(EXPORT_FORMATS) == {"json", "text", "iso", "vtt"}
    assert EXPORT_FORMATS["vtt"].startswith("text/vtt")


def test_an_unknown_format_is_refused(eu_meeting: Meeting) -> None:
    with pytest.raises(ValueError, match="unknown export format"):
        transcript_export(eu_meeting, "pdf")


def test_json_export_is_one_document_with_ids_and_segments(eu_meeting: Meeting) -> None:
    document = json.loads(_export(eu_meeting, "json"))
    assert document["meeting"]["id"] == eu_meeting.pk
    assert document["meeting"]["zoom_uuid"] == eu_meeting.zoom_uuid
    assert document["meeting"]["region"] == "eu-central"
    assert [(s["seq"], s["speaker"], s["text"]) for s in document["segments"]] == [
        (1, "Anna", "Guten Morgen"),
        (2, "Jörg", "Grüß Gott, 10 € & more"),
    ]
    assert "host_email" not in document["meeting"] and "topic" not in document["meeting"]


def test_plain_text_export_is_time_speaker_text_lines(eu_meeting: Meeting) -> None:
    assert (
        _export(eu_meeting, "text")
        == "[00:00:01] Anna: Guten Morgen\n[00:00:02] Jörg: Grüß Gott, 10 € & more\n"
    )


def test_zoom_transcript_file_is_iso_time_speaker_text_lines(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream, add_segments: AddSegments
) -> None:
    """Zoom's integration guide names a transcript file of ``[time] speaker: text`` lines with absolute
    times; relative times count from the meeting's start."""
    meeting = make_meeting(eu, started_at=datetime(2026, 11, 20, 10, 0, tzinfo=UTC))
    add_segments(make_stream(meeting), [("Anna", "Guten Morgen"), ("Jörg", "Grüß Gott")])
    assert _export(meeting, "iso") == (
        "[2026-11-20T10:00:01.000Z] Anna: Guten Morgen\n[2026-11-20T10:00:02.000Z] Jörg: Grüß Gott\n"
    )


def test_zoom_transcript_file_takes_epoch_times_as_they_are_and_never_invents_one(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    meeting = make_meeting(eu)  # its start unknown
    stream = make_stream(meeting)
    rows = [(1, None, "no time yet"), (2, 1_763_632_923_456, "at Zoom's time"), (3, None, "no time again")]
    for seq, start_ms, text in rows:
        TranscriptSegment.objects.create(
            region_code="eu-central",
            meeting_id=meeting.pk,
            stream_id=stream.pk,
            seq=seq,
            speaker_name="Anna",
            text=text,
            start_ms=start_ms,
        )
    assert _export(meeting, "iso").splitlines() == [
        "[unknown] Anna: no time yet",
        "[2025-11-20T10:02:03.456Z] Anna: at Zoom's time",
        "[2025-11-20T10:02:03.456Z] Anna: no time again",
    ]


def test_vtt_export_is_valid_webvtt_with_voices(eu_meeting: Meeting) -> None:
    cues = _vtt_cues(_export(eu_meeting, "vtt"))
    assert cues == [(1000, 1900, "Anna", "Guten Morgen"), (2000, 2900, "Jörg", "Grüß Gott, 10 € &amp; more")]


def test_hostile_strings_stay_inside_their_segment_in_every_format_when_exported(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream, add_segments: AddSegments
) -> None:
    meeting = make_meeting(eu)
    add_segments(make_stream(meeting), HOSTILE)

    document = json.loads(_export(meeting, "json"))
    assert [(s["speaker"], s["text"]) for s in document["segments"]] == HOSTILE

    plain = _export(meeting, "text")
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\u2028]", plain), "control characters"
    lines = plain.splitlines()
    assert len(lines) == len(HOSTILE)
    assert all(re.match(r"^\[\d\d:\d\d:\d\d\] [^\n]+: ", line) for line in lines)

    iso = _export(meeting, "iso").splitlines()
    assert len(iso) == len(HOSTILE)
    assert all(re.match(r"^\[unknown\] [^\n]+: ", line) for line in iso)

    cues = _vtt_cues(_export(meeting, "vtt"))
    assert len(cues) == len(HOSTILE)
    assert _unescape(cues[0][2]) == "Mallory <script>"
    assert _unescape(cues[0][3]) == "a < b && c > d --> 00:00:00.000 --> 00:00:01.000"
    assert _unescape(cues[3][3]) == "</v><v Someone else>forged" and cues[3][2] == "unknown"


def test_epoch_times_count_from_the_meetings_start(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    started = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    meeting = make_meeting(eu, started_at=started)
    stream = make_stream(meeting)
    epoch = int(started.timestamp() * 1000)
    TranscriptSegment.objects.create(
        region_code="eu-central",
        meeting_id=meeting.pk,
        stream_id=stream.pk,
        seq=1,
        speaker_name="Anna",
        text="Eine Stunde später",
        start_ms=epoch + 3_723_456,
        end_ms=epoch + 3_725_000,
    )
    assert _export(meeting, "text") == "[01:02:03] Anna: Eine Stunde später\n"
    assert _vtt_cues(_export(meeting, "vtt"))[0][:2] == (3_723_456, 3_725_000)


def test_a_segment_without_times_still_gives_a_valid_cue(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    meeting = make_meeting(eu)
    stream = make_stream(meeting)
    TranscriptSegment.objects.create(
        region_code="eu-central", meeting_id=meeting.pk, stream_id=stream.pk, seq=1, text="no times"
    )
    assert _vtt_cues(_export(meeting, "vtt"))[0][:2] == (0, 1000)


def test_export_reads_in_batches_across_streams_in_capture_order(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "BATCH_SIZE", 3)
    meeting = make_meeting(eu)
    first, second = make_stream(meeting), make_stream(meeting)
    rows = [
        TranscriptSegment(
            region_code="eu-central",
            meeting_id=meeting.pk,
            stream_id=s.pk,
            seq=i,
            text=f"{n}-{i}",
            start_ms=i,
        )
        for n, s in (("b", second), ("a", first))
        for i in range(1, 8)
    ]
    TranscriptSegment.objects.using(content_alias("eu-central")).bulk_create(rows)
    texts = [s["text"] for s in json.loads(_export(meeting, "json"))["segments"]]
    assert texts == [f"a-{i}" for i in range(1, 8)] + [f"b-{i}" for i in range(1, 8)]


def test_a_quarantined_meeting_exports_an_empty_transcript(make_meeting: MakeMeeting) -> None:
    meeting = make_meeting(None)
    assert json.loads(_export(meeting, "json"))["segments"] == []
    assert _export(meeting, "vtt") == "WEBVTT\n\n"
    assert _export(meeting, "text") == ""
    assert _export(meeting, "iso") == ""


def test_export_itself_writes_no_audit_row(eu_meeting: Meeting) -> None:
    _export(eu_meeting, "json")
    assert not AuditLog.objects.exists()
    assert RtmsStream.objects.filter(meeting=eu_meeting).exists()
