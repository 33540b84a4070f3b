"""Zoom RTMS and event-delivery protocol: enumerations, message types, pure parsing and builders.

This package is the public face: import from ``rtms.zoom.protocol``, not from its modules. Everything
follows /work/shared/docs/zoom-protocol.md (cited per section). No I/O, no settings, no logging.

- ``codes``: the numeric codes as enums (§2.2, §2.4).
- ``fields``: ``ProtocolError`` and the field validation every parser shares. Parsers treat input as
  hostile: anything malformed raises ``ProtocolError``, never another exception, and the message names
  the field but never echoes its value.
- ``events``: webhook and event-subscription event bodies, ``parse_event`` (§4.6), ``dedupe_key``
  (§4.5) and ``data_centre_hint`` (§2.1).
- ``body``: a body before parsing, ``loads_body`` (strict JSON) and ``check_storable`` (every part of
  it fits the inbox's ``jsonb``: no NUL, no lone surrogate, bounded strings and depth).
- ``event_frames``: the event-subscription WebSocket frames, ``parse_ws_frame`` and
  ``heartbeat_frame`` (§5).
- ``rtms_requests``: the RTMS signaling/media messages we send (§2.3).
- ``rtms_messages``: the RTMS signaling/media messages we receive, ``parse_rtms_message`` (§2.3).
"""

from __future__ import annotations

from rtms.zoom.protocol.body import check_storable, loads_body
from rtms.zoom.protocol.codes import (
    AudioChannel,
    Codec,
    ContentType,
    DataOption,
    EventType,
    MediaResolution,
    MediaType,
    MessageType,
    SampleRate,
    SessionState,
    StatusCode,
    StopReason,
    TranscriptLanguage,
    ZoomStreamState,
)
from rtms.zoom.protocol.event_frames import (
    BuildConnection,
    Heartbeat,
    UnknownFrame,
    WsFrame,
    WsMessage,
    heartbeat_frame,
    parse_ws_frame,
)
from rtms.zoom.protocol.events import (
    ConcurrencyLimited,
    MeetingEnded,
    MeetingStarted,
    Product,
    RtmsInterrupted,
    RtmsStarted,
    RtmsStopped,
    TrackingField,
    UnknownEvent,
    UrlValidation,
    ZoomEvent,
    data_centre_hint,
    dedupe_key,
    parse_event,
)
from rtms.zoom.protocol.fields import (
    MAX_ACCOUNT_ID,
    MAX_EMAIL,
    MAX_HOST_ID,
    MAX_MEETING_UUID,
    MAX_STREAM_ID,
    MAX_TOPIC,
    REASONS,
    ProtocolError,
)
from rtms.zoom.protocol.rtms_messages import (
    AudioData,
    DataHandshakeResp,
    EventUpdate,
    KeepAliveReq,
    RtmsMessage,
    SessionStateUpdate,
    SignalingHandshakeResp,
    StreamCloseResp,
    StreamStateUpdate,
    TranscriptData,
    UnknownMessage,
    parse_rtms_message,
)
from rtms.zoom.protocol.rtms_requests import (
    client_ready_ack,
    event_subscription,
    keep_alive_resp,
    media_handshake_req,
    signaling_handshake_req,
    stream_close_req,
)

__all__ = [
    "MAX_ACCOUNT_ID",
    "MAX_EMAIL",
    "MAX_HOST_ID",
    "MAX_MEETING_UUID",
    "MAX_STREAM_ID",
    "MAX_TOPIC",
    "REASONS",
    "AudioChannel",
    "AudioData",
    "BuildConnection",
    "Codec",
    "ConcurrencyLimited",
    "ContentType",
    "DataHandshakeResp",
    "DataOption",
    "EventType",
    "EventUpdate",
    "Heartbeat",
    "KeepAliveReq",
    "MediaResolution",
    "MediaType",
    "MeetingEnded",
    "MeetingStarted",
    "MessageType",
    "Product",
    "ProtocolError",
    "RtmsInterrupted",
    "RtmsMessage",
    "RtmsStarted",
    "RtmsStopped",
    "SampleRate",
    "SessionState",
    "SessionStateUpdate",
    "SignalingHandshakeResp",
    "StatusCode",
    "StopReason",
    "StreamCloseResp",
    "StreamStateUpdate",
    "TrackingField",
    "TranscriptData",
    "TranscriptLanguage",
    "UnknownEvent",
    "UnknownFrame",
    "UnknownMessage",
    "UrlValidation",
    "WsFrame",
    "WsMessage",
    "ZoomEvent",
    "ZoomStreamState",
    "check_storable",
    "client_ready_ack",
    "data_centre_hint",
    "dedupe_key",
    "event_subscription",
    "heartbeat_frame",
    "keep_alive_resp",
    "loads_body",
    "media_handshake_req",
    "parse_event",
    "parse_rtms_message",
    "parse_ws_frame",
    "signaling_handshake_req",
    "stream_close_req",
]
