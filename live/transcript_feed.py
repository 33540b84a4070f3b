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


async def segments_to_live_pages(sender: object, *, segments: Sequence[Any], **_: object) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    # One message per meeting per flush, not per segment, and all of them in one Redis round trip
    # (docs/benchmarks.md, "live page fan-out").
    by_meeting: dict[int, list[dict[str, object]]] = {}
    for segment in segments:
        by_meeting.setdefault(segment.meeting_id, []).append(segment.as_message())
    await group_send_many(
        layer,
        [
            (meeting_group(meeting_id), {"type": "transcript.segments", "segments": messages})
            for meeting_id, messages in by_meeting.items()
        ],
    )
