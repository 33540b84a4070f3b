"""What the client asks Zoom for: one media socket per type with its parameters, and the events it
subscribes to on signaling (zoom-protocol.md §2.3 messages 3 and 5, §2.4.5)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from rtms.zoom.protocol import AudioChannel, Codec, ContentType, DataOption, EventType, MediaType, SampleRate
from rtms.zoom.transport import StreamTarget

# zoom-protocol.md §2.3 message 5: FIRST_PACKET_TIMESTAMP and MEDIA_CONNECTION_INTERRUPTED come unasked.
SUBSCRIBED_EVENTS: Final = (
    EventType.ACTIVE_SPEAKER_CHANGE,
    EventType.PARTICIPANT_JOIN,
    EventType.PARTICIPANT_LEAVE,
)


@dataclass(frozen=True)
class MediaSpec:
    name: str  # the key in media_server.server_urls and in media_params (§2.3)
    flag: MediaType
    params: Mapping[str, object]


# zoom-protocol.md §2.3 message 3, one socket per type to the per-type URL key, as the SDK does (§2.1).
MEDIA_SPECS: Final = (
    MediaSpec("transcript", MediaType.TRANSCRIPT, {"transcript": {"content_type": int(ContentType.TEXT)}}),
    # §2.4.5 protocol defaults, spelled out: L16, 16 kHz, mono, mixed stream, 20 ms.
    MediaSpec(
        "audio",
        MediaType.AUDIO,
        {
            "audio": {
                "content_type": int(ContentType.RAW_AUDIO),
                "sample_rate": int(SampleRate.SR_16K),
                "channel": int(AudioChannel.MONO),
                "codec": int(Codec.L16),
                "data_opt": int(DataOption.AUDIO_MIXED_STREAM),
                "send_rate": 20,
            }
        },
    ),
)


def specs_for(target: StreamTarget) -> list[MediaSpec]:
    """The media sockets ``target`` asks for, transcript first."""
    return [spec for spec in MEDIA_SPECS if spec.flag in target.media]
