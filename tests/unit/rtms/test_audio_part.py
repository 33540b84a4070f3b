from __future__ import annotations

import wave
from pathlib import Path

from rtms.gateway.audio import WavPart


def test_a_wav_part_has_a_correct_header_once_closed(tmp_path: Path) -> None:
    part = WavPart(tmp_path / "r" / "1-1.wav")
    part.write(b"\x01\x00" * 320)
    part.write(b"\x02\x00" * 320 + b"\x03")  # a stray odd byte is not half a sample
    part.close()
    with wave.open(str(tmp_path / "r" / "1-1.wav"), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
        assert wav.getnframes() == 640


def test_no_audio_no_file(tmp_path: Path) -> None:
    part = WavPart(tmp_path / "none.wav")
    part.write(b"")
    part.close()
    assert not (tmp_path / "none.wav").exists()
