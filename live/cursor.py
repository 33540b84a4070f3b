"""The catch-up cursor of the live page: how far a reader got, per stream (pure, no I/O).

``seq`` is numbered per stream (rtms/gateway/segments.py) and a meeting can have several streams over time
(a restart creates a new one, and two can overlap), so one number cannot say where a reader is. The cursor
is the highest ``seq`` seen per stream: ``after=<stream>:<seq>,<stream>:<seq>``. The issue's short form
``after=<seq>`` is accepted too; it means that seq in the meeting's newest stream, and every older stream
from its start (a duplicate is dropped by the reader, a line is never skipped).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_STREAMS = 100  # a cursor naming more streams than this is not from our page
_MAX_INT = 2**63 - 1


class CursorError(ValueError):
    """The ``after`` parameter is malformed."""


@dataclass(frozen=True)
class Cursor:
    per_stream: dict[int, int] = field(default_factory=dict)
    newest_stream_seq: int | None = None  # the short form, resolved against the meeting's newest stream

    def resolve(self, newest_stream_id: int | None) -> dict[int, int]:
        """Highest seq already seen per stream, with the short form applied."""
        seen = dict(self.per_stream)
        if self.newest_stream_seq is not None and newest_stream_id is not None:
            seen[newest_stream_id] = max(seen.get(newest_stream_id, 0), self.newest_stream_seq)
        return seen


def _int(text: str) -> int:
    if not text.isdigit() or len(text) > 19 or int(text) > _MAX_INT:
        raise CursorError(f"not a non-negative integer: {text[:20]!r}")
    return int(text)


def parse_cursor(raw: str | None) -> Cursor:
    if raw is None or raw.strip() == "":
        return Cursor()
    raw = raw.strip()
    if ":" not in raw and "," not in raw:
        return Cursor(newest_stream_seq=_int(raw))
    parts = [p for p in raw.split(",") if p]
    if len(parts) > MAX_STREAMS:
        raise CursorError(f"more than {MAX_STREAMS} streams")
    per_stream: dict[int, int] = {}
    for part in parts:
        stream, sep, seq = part.partition(":")
        if not sep:
            raise CursorError("each entry is <stream>:<seq>")
        stream_id = _int(stream)
        per_stream[stream_id] = max(per_stream.get(stream_id, 0), _int(seq))
    return Cursor(per_stream=per_stream)


def format_cursor(seen: dict[int, int]) -> str:
    return ",".join(f"{stream}:{seq}" for stream, seq in sorted(seen.items()))


def fresh_segments(seen: dict[int, int], segments: list[dict[str, object]]) -> list[dict[str, object]]:
    """The segments not seen yet (by stream and seq), in order; ``seen`` is advanced."""
    out = []
    for segment in segments:
        stream_id, seq = int(segment["stream_id"]), int(segment["seq"])  # type: ignore[call-overload]
        if seq > seen.get(stream_id, 0):
            seen[stream_id] = seq
            out.append(segment)
    return out


def gaps(seen: dict[int, int], segments: list[dict[str, object]]) -> dict[int, int]:
    """Streams whose next unseen segment is not the one after ``seen``: stream -> last seq seen.

    Committed seqs have no holes (a gateway continues from the stored maximum), so a hole means a live
    message was lost on the way (publishing is best effort); the caller fills it from the database.
    """
    holes: dict[int, int] = {}
    expected = dict(seen)
    for segment in segments:
        stream_id, seq = int(segment["stream_id"]), int(segment["seq"])  # type: ignore[call-overload]
        last = expected.get(stream_id, 0)
        if seq <= last:
            continue
        if seq > last + 1 and stream_id not in holes:
            holes[stream_id] = seen.get(stream_id, 0)
        expected[stream_id] = seq
    return holes
