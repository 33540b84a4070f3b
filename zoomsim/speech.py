"""What a meeting's participants say: the scripted or generated transcript, and an L16 audio tone.

A meeting speaks on its own clock, whether or not an RTMS client listens (speak_from: meeting_start),
or from the moment its first client is ready (speak_from: first_client). The RTMS servers deliver each
segment to the stream's ready client, if there is one; otherwise it is lost (ledger rtms.segment_sent
with ready_client false).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from zoomsim.clock import now_ms

# RTMS_TRANSCRIPT_LANGUAGE (zoom-protocol.md §2.4.11); ISO-639-1-ish aliases for scripts.
LANGUAGES: dict[str, int] = {
    "ar": 0,
    "bn": 1,
    "yue": 2,
    "ca": 3,
    "zh": 4,
    "zh-cn": 4,
    "zh-tw": 5,
    "cs": 6,
    "da": 7,
    "nl": 8,
    "en": 9,
    "et": 10,
    "fi": 11,
    "fr-ca": 12,
    "fr": 13,
    "de": 14,
    "he": 15,
    "hi": 16,
    "hu": 17,
    "id": 18,
    "it": 19,
    "ja": 20,
    "ko": 21,
    "ms": 22,
    "fa": 23,
    "pl": 24,
    "pt": 25,
    "ro": 26,
    "ru": 27,
    "es": 28,
    "sv": 29,
    "tl": 30,
    "ta": 31,
    "te": 32,
    "th": 33,
    "tr": 34,
    "uk": 35,
    "vi": 36,
}
ENGLISH = 9

# Sentences for generated speech, per language id; "{n}" is the speaker's segment number.
PHRASES: dict[int, list[str]] = {
    9: [
        "Let's look at item {n} on the agenda.",
        "I agree with that, point {n}.",
        "Can you share the numbers?",
    ],
    28: [
        "Veamos el punto {n} del orden del día.",
        "Estoy de acuerdo, punto {n}.",
        "¿Puedes compartir las cifras?",
    ],
    14: ["Schauen wir uns Punkt {n} an.", "Dem stimme ich zu, Punkt {n}.", "Kannst du die Zahlen teilen?"],
    13: ["Passons au point {n}.", "Je suis d'accord, point {n}.", "Peux-tu partager les chiffres ?"],
    20: ["議題の{n}番目を見ましょう。", "{n}点目に賛成です。", "数字を共有できますか？"],
    4: ["我们来看第{n}项议程。", "我同意第{n}点。", "你能分享一下数据吗？"],
    25: ["Vamos ver o item {n}.", "Concordo com o ponto {n}.", "Pode partilhar os números?"],
}


def language_code(value: Any) -> int:
    """A transcript language id from an int (0-36, or -1) or an alias such as "en" / "es"."""
    if isinstance(value, bool):
        raise ValueError(f"unknown language {value!r}")
    if isinstance(value, int):
        if -1 <= value <= 36:
            return value
        raise ValueError(f"unknown language {value!r}")
    if isinstance(value, str) and value.lower() in LANGUAGES:
        return LANGUAGES[value.lower()]
    raise ValueError(f"unknown language {value!r}")


def validate_generate(spec: Any) -> dict[str, Any]:
    """{"speakers": 2, "rate_per_s": 0.5, "languages": ["en", "es"], "count": 40}: `speakers` people
    each saying `rate_per_s` segments per simulated second, speaker k in languages[k % n]; `count`
    caps the total (default: until the meeting ends)."""
    if not isinstance(spec, dict):
        raise ValueError("transcript_generate must be an object")
    unknown = set(spec) - {"speakers", "rate_per_s", "languages", "count"}
    if unknown:
        raise ValueError(f"transcript_generate: unknown keys {sorted(unknown)}")
    speakers = spec.get("speakers", 2)
    rate = spec.get("rate_per_s", 0.5)
    count = spec.get("count")
    langs = spec.get("languages", ["en"])
    if not isinstance(speakers, int) or isinstance(speakers, bool) or not 1 <= speakers <= 100:
        raise ValueError("transcript_generate.speakers must be an integer 1-100")
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 < rate <= 50:
        raise ValueError("transcript_generate.rate_per_s must be > 0 and <= 50")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
        raise ValueError("transcript_generate.count must be a non-negative integer")
    if not isinstance(langs, list) or not langs:
        raise ValueError("transcript_generate.languages must be a non-empty list")
    return {
        "speakers": speakers,
        "rate_per_s": float(rate),
        "languages": [language_code(x) for x in langs],
        "count": count,
    }


def speaker_user_id(name: str) -> int:
    """A stable Zoom-like user id (an int) per speaker name."""
    digest = hashlib.sha256(("zoomsim-speaker:" + name).encode()).digest()
    return 16_777_216 + int.from_bytes(digest[:3], "big") * 4


@dataclass
class Segment:
    source: str  # script | generated
    line: int  # position in the script (or the generated sequence number)
    speaker: str
    user_id: int
    text: str
    language: int
    start_time: int  # ms, wall clock
    end_time: int

    def content(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "user_name": self.speaker,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "timestamp": self.start_time,
            "language": self.language,
            "data": self.text,
        }


Speak = Callable[[Segment], Awaitable[None]]


async def run_script(
    lines: list[dict[str, Any]], interval_real_s: float, speak: Speak, default_speaker: str
) -> None:
    """Say each line in turn: line i is spoken during [t0 + i*interval, t0 + (i+1)*interval) and its
    transcript is produced when the utterance ends."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for i, line in enumerate(lines):
        start = now_ms()
        await asyncio.sleep(max(0.0, t0 + (i + 1) * interval_real_s - loop.time()))
        name = str(line.get("speaker") or default_speaker)
        await speak(
            Segment(
                source="script",
                line=i,
                speaker=name,
                user_id=int(line["user_id"]) if "user_id" in line else speaker_user_id(name),
                text=str(line["text"]),
                language=language_code(line.get("language", ENGLISH)),
                start_time=start,
                end_time=max(start + 1, now_ms()),
            )
        )


async def run_generated(spec: dict[str, Any], scale: float, speak: Speak) -> None:
    """Generated speech: each speaker says rate_per_s segments per simulated second."""
    speakers = int(spec["speakers"])
    interval = scale / float(spec["rate_per_s"])  # real seconds between one speaker's segments
    langs: list[int] = spec["languages"]
    count = spec.get("count")
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    # Speaker k speaks at t0 + k*interval/speakers + j*interval: merge into one ordered schedule.
    n = 0
    j = 0
    while count is None or n < count:
        for k in range(speakers):
            if count is not None and n >= count:
                return
            due = t0 + (j + 1) * interval + k * interval / speakers
            start = now_ms()
            await asyncio.sleep(max(0.0, due - loop.time()))
            lang = langs[k % len(langs)]
            phrases = PHRASES.get(lang, PHRASES[ENGLISH])
            name = f"Speaker {k + 1}"
            await speak(
                Segment(
                    source="generated",
                    line=n,
                    speaker=name,
                    user_id=speaker_user_id(name),
                    text=phrases[j % len(phrases)].format(n=j + 1),
                    language=lang,
                    start_time=start,
                    end_time=max(start + 1, now_ms()),
                )
            )
            n += 1
        j += 1


def l16_tone(sample_index: int, samples: int, freq: float = 440.0, rate: int = 16000) -> bytes:
    """`samples` samples of a sine tone (16-bit little-endian signed, mono), continuing the phase."""
    amp = 8000
    return b"".join(
        struct.pack("<h", int(amp * math.sin(2 * math.pi * freq * (sample_index + i) / rate)))
        for i in range(samples)
    )
