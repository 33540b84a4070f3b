"""Committed transcript segments to the live pages, from the gateway's event loop.

The receiver of ``rtms.hooks.segments_committed`` (connected in live/apps.py): the gateway stores segments
in the region's database, then announces them; this sends them to each meeting's channel group, where the
live page's consumer is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from channels.layers import get_channel_layer

from controlplane.runtime.channels_redis_pubsub import group_send_many
from live.groups import meeting_group
from live.layers import layer_alias_for


async def segments_to_live_pages(sender: object, *, segments: Sequence[Any], **_: object) -> None:
    # One message per meeting per flush, not per segment, and all of a layer's in one Redis round trip
    # (docs/benchmarks.md, "live page fan-out"); each on its region's layer (live/layers.py).
    by_layer: dict[str, dict[int, list[dict[str, object]]]] = {}
    for segment in segments:
        by_meeting = by_layer.setdefault(layer_alias_for(segment.region_code), {})
        by_meeting.setdefault(segment.meeting_id, []).append(segment.as_message())
    for alias, by_meeting in by_layer.items():
        layer = get_channel_layer(alias)
        if layer is None:
            continue
        await group_send_many(
            layer,
            [
                (meeting_group(meeting_id), {"type": "transcript.segments", "segments": messages})
                for meeting_id, messages in by_meeting.items()
            ],
        )
