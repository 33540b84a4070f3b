"""A meeting's recording as one WAV, streamed from its parts without reading them into memory.

The gateway writes one part per stream and lease holder (rtms/gateway/audio.py); they play in stream
order, then lease-token order. The download is a fresh RIFF header followed by each part's PCM data.
Sizes are taken when the request starts: a part still being written (live meeting) contributes what it
held at that moment, and a part whose header a crashed gateway never finalised contributes the bytes on
disk rather than its header's zero length.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rtms.gateway.audio import SAMPLE_RATE, SAMPLE_WIDTH, region_media_root

CHUNK_BYTES = 256 * 1024  # the web handler's chunk size (controlplane/runtime/django_asgi.py)
_PART_NAME = re.compile(r"^(\d+)-(\d+)\.wav$")
_HEADER_BYTES = 44
_MAX_RIFF_DATA = 0xFFFFFFFF - 36  # RIFF sizes are 32-bit


class RecordingTooLong(Exception):
    pass


@dataclass(frozen=True)
class Part:
    path: Path
    data_offset: int
    data_length: int


@dataclass(frozen=True)
class Recording:
    parts: tuple[Part, ...]

    @property
    def data_length(self) -> int:
        return sum(p.data_length for p in self.parts)

    @property
    def content_length(self) -> int:
        return _HEADER_BYTES + self.data_length


def _data_chunk(path: Path) -> Part | None:
    """Where the PCM starts and how long it is; None if the file is not a WAV we wrote."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    offset = 12
    while offset + 8 <= len(head):
        chunk_id, chunk_size = (
            head[offset : offset + 4],
            struct.unpack("<I", head[offset + 4 : offset + 8])[0],
        )
        if chunk_id == b"data":
            start = offset + 8
            on_disk = max(0, size - start)
            length = on_disk if chunk_size == 0 or chunk_size > on_disk else chunk_size
            return Part(path, start, length - length % SAMPLE_WIDTH)
        offset += 8 + chunk_size + (chunk_size & 1)
    return None


def meeting_recording(region_code: str, meeting_id: int) -> Recording:
    directory = region_media_root(region_code) / "audio" / str(meeting_id)
    named: list[tuple[int, int, Path]] = []
    if directory.is_dir():
        for path in directory.iterdir():
            match = _PART_NAME.match(path.name)
            if match and path.is_file():
                named.append((int(match.group(1)), int(match.group(2)), path))
    parts = [part for _, _, path in sorted(named) if (part := _data_chunk(path)) is not None]
    recording = Recording(tuple(p for p in parts if p.data_length > 0))
    if recording.data_length > _MAX_RIFF_DATA:
        raise RecordingTooLong("the recording is too long for one WAV file")
    return recording


def wav_header(data_length: int) -> bytes:
    byte_rate = SAMPLE_RATE * SAMPLE_WIDTH
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_length)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, SAMPLE_RATE, byte_rate, SAMPLE_WIDTH, SAMPLE_WIDTH * 8)
        + b"data"
        + struct.pack("<I", data_length)
    )


def wav_chunks(recording: Recording) -> Iterator[bytes]:
    yield wav_header(recording.data_length)
    for part in recording.parts:
        remaining = part.data_length
        try:
            with part.path.open("rb") as f:
                f.seek(part.data_offset)
                while remaining > 0:
                    block = f.read(min(CHUNK_BYTES, remaining))
                    if not block:
                        break
                    remaining -= len(block)
                    yield block
        except FileNotFoundError:
            pass  # erased while downloading: the response ends short of its Content-Length
        if remaining > 0:
            return
