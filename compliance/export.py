"""A meeting's transcript as JSON, plain text, Zoom's transcript file or WebVTT, streamed from its region's
database.

Generators yield text chunks so a view can hand them to a ``StreamingHttpResponse``: segments are read in
keyset batches (per stream, by ``seq``), never all at once. Exporting is a disclosure of personal data, but
this module does not audit: the caller knows who asked and from where, and records ``transcript.export``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

from django.db import connections
from django.db.models import Min

from regions.storage import content_alias
from rtms.models import Meeting, TranscriptSegment

EXPORT_FORMATS: Final[dict[str, str]] = {
    "json": "application/json",
    "text": "text/plain; charset=utf-8",
    "iso": "text/plain; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}
EXPORT_EXTENSIONS: Final[dict[str, str]] = {"json": "json", "text": "txt", "iso": "iso.txt", "vtt": "vtt"}

BATCH_SIZE: Final = 500
# Zoom sends start/end times as epoch milliseconds; anything below this (1973) is already relative.
_EPOCH_MS_THRESHOLD: Final = 100_000_000_000
_MIN_CUE_MS: Final = 1000
# C0 controls (tab aside) and DEL: a line break inside a segment would forge a new line or end a VTT cue.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\u2028\u2029]+")


def transcript_export(meeting: Meeting, fmt: str) -> Iterator[str]:
    """Text chunks of ``meeting``'s transcript in ``fmt`` (a key of EXPORT_FORMATS)."""
    writers: dict[str, Callable[[Meeting], Iterator[str]]] = {
        "json": _json,
        "text": _text,
        "iso": _iso_text,
        "vtt": _vtt,
    }
    if fmt not in writers:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    return writers[fmt](meeting)


def export_filename(meeting: Meeting, fmt: str) -> str:
    """Internal ids only: a Zoom uuid or topic in a file name would leak into download folders."""
    return f"meeting-{meeting.pk}-transcript.{EXPORT_EXTENSIONS[fmt]}"


# --- reading -----------------------------------------------------------------------------------------
def _stream_order(meeting: Meeting, alias: str, code: str) -> list[int]:
    """Streams in capture order; ids the region holds but the control DB does not know come last."""
    known = list(meeting.streams.order_by("created_at", "id").values_list("pk", flat=True))
    stored = set(
        TranscriptSegment.objects.using(alias)
        .filter(region_code=code, meeting_id=meeting.pk)
        .values_list("stream_id", flat=True)
        .distinct()
    )
    return [pk for pk in known if pk in stored] + sorted(stored - set(known))


class Segment(NamedTuple):
    """What an export writes of a segment: read as plain rows, not model instances, which cost several
    times the formatting itself (bench/downloads.py)."""

    stream_id: int
    seq: int
    speaker_id: int | None
    speaker_name: str
    text: str
    start_ms: int | None
    end_ms: int | None
    language: int | None


def _segments(meeting: Meeting) -> Iterator[Segment]:
    if meeting.region_id is None:  # quarantined meetings hold no content by construction
        return
    code = meeting.region.code  # type: ignore[union-attr]
    alias = content_alias(code)
    for stream_id in _stream_order(meeting, alias, code):
        after = 0
        while True:
            batch = [
                Segment(*row)
                for row in TranscriptSegment.objects.using(alias)
                .filter(region_code=code, meeting_id=meeting.pk, stream_id=stream_id, seq__gt=after)
                .order_by("seq")
                .values_list(*Segment._fields)[:BATCH_SIZE]
            ]
            yield from batch
            if len(batch) < BATCH_SIZE:
                break
            after = batch[-1].seq


def _time_base_ms(meeting: Meeting) -> int:
    """Where 00:00:00 is. Relative times stay as they are; epoch times count from the meeting's start
    (or from the first segment when the meeting's start is unknown or later than what was said)."""
    if meeting.region_id is None:
        return 0
    code = meeting.region.code  # type: ignore[union-attr]
    first = (
        TranscriptSegment.objects.using(content_alias(code))
        .filter(region_code=code, meeting_id=meeting.pk, start_ms__isnull=False)
        .aggregate(first=Min("start_ms"))["first"]
    )
    if first is None or first < _EPOCH_MS_THRESHOLD:
        return 0
    if meeting.started_at is not None:
        started_ms = int(meeting.started_at.timestamp() * 1000)
        if started_ms <= first:
            return started_ms
    return int(first)


def _one_line(value: str) -> str:
    return _CONTROL.sub(" ", value).strip()


def _speaker(segment: Segment) -> str:
    return _one_line(segment.speaker_name) or "unknown"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- formats -----------------------------------------------------------------------------------------
def _json(meeting: Meeting) -> Iterator[str]:
    head: dict[str, Any] = {
        "id": meeting.pk,
        "zoom_uuid": meeting.zoom_uuid,
        "zoom_meeting_id": meeting.zoom_meeting_id,
        "region": meeting.region.code if meeting.region_id else None,  # type: ignore[union-attr]
        "started_at": _iso(meeting.started_at),
        "ended_at": _iso(meeting.ended_at),
    }
    yield '{"meeting": ' + json.dumps(head, ensure_ascii=False) + ', "segments": ['
    separator = ""
    for batch in _json_batches(meeting):
        yield separator + batch
        separator = ", "
    yield "]}\n"


# One page of a stream's segments as JSON objects joined by ", ", made by PostgreSQL: formatting them in
# Python was most of an export's CPU, taken from the webhooks the web process also answers
# (bench/downloads.py). jsonb writes `"key": value` as json.dumps does; it orders an object's keys by
# length, which JSON leaves free.
_JSON_PAGE = """
SELECT string_agg(doc, ', ' ORDER BY seq), max(seq), count(*) FROM (
    SELECT seq, jsonb_build_object(
        'stream_id', stream_id, 'seq', seq, 'speaker_id', speaker_id, 'speaker', speaker_name,
        'text', text, 'start_ms', start_ms, 'end_ms', end_ms, 'language', language
    )::text AS doc
    FROM {table}
    WHERE region_code = %s AND meeting_id = %s AND stream_id = %s AND seq > %s
    ORDER BY seq
    LIMIT %s
) page
"""


def _json_batches(meeting: Meeting) -> Iterator[str]:
    if meeting.region_id is None:  # quarantined meetings hold no content by construction
        return
    code = meeting.region.code  # type: ignore[union-attr]
    alias = content_alias(code)
    sql = _JSON_PAGE.format(table=connections[alias].ops.quote_name(TranscriptSegment._meta.db_table))
    for stream_id in _stream_order(meeting, alias, code):
        after = 0
        while True:
            with connections[alias].cursor() as cursor:
                cursor.execute(sql, [code, meeting.pk, stream_id, after, BATCH_SIZE])
                text, last, count = cursor.fetchone()
            if count:
                yield text
            if count < BATCH_SIZE:
                break
            after = last


def _clock(ms: int) -> str:
    seconds = max(ms, 0) // 1000
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _text(meeting: Meeting) -> Iterator[str]:
    base = _time_base_ms(meeting)
    last = 0
    for s in _segments(meeting):
        offset = last if s.start_ms is None else s.start_ms - base
        last = offset
        yield f"[{_clock(offset)}] {_speaker(s)}: {_one_line(s.text)}\n"


def _utc_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso_text(meeting: Meeting) -> Iterator[str]:
    """Zoom's transcript file: ``[ISO time] speaker: text`` lines, times in UTC. Zoom's times are epoch
    milliseconds; relative ones count from the meeting's start. A segment without a time takes the one
    before it; with no time to go by at all the line says ``[unknown]`` rather than inventing one."""
    started_ms = int(meeting.started_at.timestamp() * 1000) if meeting.started_at is not None else None
    last: int | None = None
    for s in _segments(meeting):
        if s.start_ms is not None and s.start_ms >= _EPOCH_MS_THRESHOLD:
            last = s.start_ms
        elif s.start_ms is not None and started_ms is not None:
            last = started_ms + s.start_ms
        elif last is None:
            last = started_ms
        when = _utc_ms(last) if last is not None else "unknown"
        yield f"[{when}] {_speaker(s)}: {_one_line(s.text)}\n"


def _vtt_time(ms: int) -> str:
    ms = max(ms, 0)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def _vtt_escape(value: str) -> str:
    # WebVTT cue text and voice annotations: & < > are the only characters with meaning; escaping them
    # also defuses "-->" (a cue-timing look-alike) inside the text.
    return _one_line(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vtt(meeting: Meeting) -> Iterator[str]:
    yield "WEBVTT\n\n"
    base = _time_base_ms(meeting)
    last_end = 0
    for s in _segments(meeting):
        start = last_end if s.start_ms is None else max(s.start_ms - base, 0)
        end = start + _MIN_CUE_MS if s.end_ms is None else s.end_ms - base
        if end <= start:  # a cue must end after it starts
            end = start + _MIN_CUE_MS
        last_end = end
        yield (
            f"{s.stream_id}-{s.seq}\n"
            f"{_vtt_time(start)} --> {_vtt_time(end)}\n"
            f"<v {_vtt_escape(_speaker(s))}>{_vtt_escape(s.text)}\n\n"
        )
