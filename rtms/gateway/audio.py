"""Audio capture: raw L16 16 kHz mono PCM from RTMS into a WAV file per stream, in the region's media root.

Each lease holder writes its own part (``<stream>-<lease token>.wav``): a gateway that takes a stream over
after a crash cannot append to a WAV whose header the dead process never finished, and the parts play in
token order. The header is finalised when the part is closed (stream end, lease loss, shutdown).
"""

from __future__ import annotations

import logging
import wave
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
SAMPLE_WIDTH = 2  # 16-bit little-endian PCM (L16 as RTMS sends it, zoom-protocol.md §2.4.3)


def region_media_root(region_code: str) -> Path:
    return Path(settings.MEDIA_ROOT) / region_code


def audio_part_path(region_code: str, meeting_id: int, stream_id: int, lease_token: int) -> Path:
    return region_media_root(region_code) / "audio" / str(meeting_id) / f"{stream_id}-{lease_token}.wav"


class WavPart:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._wav: wave.Wave_write | None = None
        self.frames = 0

    def write(self, pcm: bytes) -> None:
        if not pcm:
            return
        if self._wav is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            wav = wave.open(str(self.path), "wb")
            wav.setnchannels(1)
            wav.setsampwidth(SAMPLE_WIDTH)
            wav.setframerate(SAMPLE_RATE)
            self._wav = wav
        usable = len(pcm) - len(pcm) % SAMPLE_WIDTH
        self._wav.writeframesraw(pcm[:usable])
        self.frames += usable // SAMPLE_WIDTH

    def close(self) -> None:
        if self._wav is not None:
            self._wav.close()  # rewrites the RIFF and data sizes in the header
            self._wav = None
            logger.info("audio.part_closed", extra={"path_name": self.path.name, "frames": self.frames})
