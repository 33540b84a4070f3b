"""RTMS signaling/media messages we send (zoom-protocol.md §2.3), as JSON-ready dicts.

Enums go out as plain ints (§2.1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from rtms.zoom.protocol.codes import EventType, MediaType, MessageType
from rtms.zoom.protocol.rtms_messages import KeepAliveReq

__all__ = [
    "PROTOCOL_VERSION",
    "client_ready_ack",
    "event_subscription",
    "keep_alive_resp",
    "media_handshake_req",
    "signaling_handshake_req",
    "stream_close_req",
]

PROTOCOL_VERSION: Final = 1


# zoom-protocol.md §2.3 message 1. `buffer_data` is omitted when None so Zoom's default (true) holds.
def signaling_handshake_req(
    meeting_uuid: str, rtms_stream_id: str, signature: str, sequence: int, buffer_data: bool | None = None
) -> dict[str, object]:
    message: dict[str, object] = {
        "msg_type": int(MessageType.SIGNALING_HAND_SHAKE_REQ),
        "protocol_version": PROTOCOL_VERSION,
        "sequence": sequence,
        "meeting_uuid": meeting_uuid,
        "rtms_stream_id": rtms_stream_id,
        "signature": signature,
    }
    if buffer_data is not None:
        message["buffer_data"] = buffer_data
    return message


# zoom-protocol.md §2.3 message 3. `media_params: null` means "defaults", as the official SDK sends.
def media_handshake_req(
    meeting_uuid: str,
    rtms_stream_id: str,
    signature: str,
    sequence: int,
    media_type: MediaType,
    media_params: Mapping[str, object] | None = None,
) -> dict[str, object]:
    return {
        "msg_type": int(MessageType.DATA_HAND_SHAKE_REQ),
        "protocol_version": PROTOCOL_VERSION,
        "sequence": sequence,
        "meeting_uuid": meeting_uuid,
        "rtms_stream_id": rtms_stream_id,
        "signature": signature,
        "media_type": int(media_type),
        "media_params": dict(media_params) if media_params is not None else None,
    }


# zoom-protocol.md §2.3 message 7: goes on the signaling socket, after every media handshake.
def client_ready_ack(rtms_stream_id: str) -> dict[str, object]:
    return {"msg_type": int(MessageType.CLIENT_READY_ACK), "rtms_stream_id": rtms_stream_id}


# zoom-protocol.md §2.3 message 21.
def stream_close_req(rtms_stream_id: str) -> dict[str, object]:
    return {"msg_type": int(MessageType.STREAM_CLOSE_REQ), "rtms_stream_id": rtms_stream_id}


# zoom-protocol.md §2.3 messages 12/13: "timestamp in the response must match the request", and the
# SDK also echoes `sequence`, which it needs to accept the exchange.
def keep_alive_resp(req: Mapping[str, object] | KeepAliveReq) -> dict[str, object]:
    response: dict[str, object] = {"msg_type": int(MessageType.KEEP_ALIVE_RESP)}
    if isinstance(req, KeepAliveReq):
        response["timestamp"] = req.timestamp
        if req.sequence is not None:
            response["sequence"] = req.sequence
        return response
    for key in ("timestamp", "sequence"):
        value = req.get(key)
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            response[key] = value
    return response


# zoom-protocol.md §2.3 message 5. FIRST_PACKET_TIMESTAMP and MEDIA_CONNECTION_INTERRUPTED are sent
# automatically and the docs say not to subscribe to them, so asking for them is a programming error.
_AUTOMATIC_EVENTS: Final = frozenset(
    {EventType.FIRST_PACKET_TIMESTAMP, EventType.MEDIA_CONNECTION_INTERRUPTED}
)


def event_subscription(events: Iterable[EventType], subscribe: bool = True) -> dict[str, object]:
    wanted: list[EventType] = []
    for event_type in events:
        event_type = EventType(event_type)
        if event_type in _AUTOMATIC_EVENTS or event_type is EventType.UNDEFINED:
            raise ValueError(f"{event_type.name} cannot be subscribed to")
        if event_type not in wanted:
            wanted.append(event_type)
    return {
        "msg_type": int(MessageType.EVENT_SUBSCRIPTION),
        "events": [{"event_type": int(e), "subscribe": subscribe} for e in wanted],
    }
