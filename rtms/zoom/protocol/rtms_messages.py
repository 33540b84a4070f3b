"""RTMS signaling/media messages we receive (zoom-protocol.md §2.3): types and ``parse_rtms_message``.

Unknown extra keys are tolerated because the SDK and the docs disagree on several (§8 item 16).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

from rtms.zoom.protocol.codes import (
    EventType,
    MessageType,
    SessionState,
    StatusCode,
    StopReason,
    ZoomStreamState,
)
from rtms.zoom.protocol.fields import (
    _INT32_MAX,
    _INT32_MIN,
    _MAX_EVENT_NAME,
    _MAX_URL,
    ProtocolError,
    _int,
    _known,
    _numeric_id,
    _opt_id,
    _opt_int,
    _opt_str,
    _require_dict,
    _str,
)

__all__ = [
    "AudioData",
    "DataHandshakeResp",
    "EventUpdate",
    "KeepAliveReq",
    "RtmsMessage",
    "SessionStateUpdate",
    "SignalingHandshakeResp",
    "StreamCloseResp",
    "StreamStateUpdate",
    "TranscriptData",
    "UnknownMessage",
    "parse_rtms_message",
]


@dataclass(frozen=True, slots=True)
class SignalingHandshakeResp:
    status_code: StatusCode | int
    reason: str
    # Keys are media names (audio, video, transcript, deskshare, chat, all), as Zoom sends them.
    media_urls: dict[str, str]

    @property
    def ok(self) -> bool:
        return self.status_code == StatusCode.OK


@dataclass(frozen=True, slots=True)
class DataHandshakeResp:
    status_code: StatusCode | int
    reason: str
    media_params: dict[str, object]

    @property
    def ok(self) -> bool:
        return self.status_code == StatusCode.OK


@dataclass(frozen=True, slots=True)
class StreamStateUpdate:
    state: ZoomStreamState | int
    reason: StopReason | int | None
    timestamp: int | None


@dataclass(frozen=True, slots=True)
class SessionStateUpdate:
    state: SessionState | int
    reason: StopReason | int | None
    rtms_session_id: str | None
    timestamp: int | None


@dataclass(frozen=True, slots=True)
class EventUpdate:
    event_type: EventType | int
    event: dict[str, object]


@dataclass(frozen=True, slots=True)
class KeepAliveReq:
    timestamp: int
    sequence: int | None


@dataclass(frozen=True, slots=True)
class TranscriptData:
    user_id: int
    user_name: str = field(repr=False)
    text: str = field(repr=False)
    start_time: int
    end_time: int
    timestamp: int
    language: int | None


@dataclass(frozen=True, slots=True)
class AudioData:
    user_id: int
    user_name: str = field(repr=False)
    data: bytes = field(repr=False)
    timestamp: int


@dataclass(frozen=True, slots=True)
class StreamCloseResp:
    status_code: StatusCode | int
    reason: str
    rtms_stream_id: str | None
    timestamp: int | None


@dataclass(frozen=True, slots=True)
class UnknownMessage:
    msg_type: int
    raw: dict[str, object] = field(repr=False)


RtmsMessage: TypeAlias = (
    SignalingHandshakeResp
    | DataHandshakeResp
    | StreamStateUpdate
    | SessionStateUpdate
    | EventUpdate
    | KeepAliveReq
    | TranscriptData
    | AudioData
    | StreamCloseResp
    | UnknownMessage
)


def _status(msg: Mapping[str, object], where: str) -> StatusCode | int:
    return _known(StatusCode, _int(msg, "status_code", where, lo=_INT32_MIN, hi=_INT32_MAX))


def _reason_text(msg: Mapping[str, object], where: str) -> str:
    return _opt_str(msg, "reason", where) or ""


# zoom-protocol.md §2.3 messages 8/9: the docs and the SDK say `reason`, the doc example and the
# events sample say `stop_reason`; whichever is present is taken.
def _stop_reason(msg: Mapping[str, object], where: str) -> StopReason | int | None:
    key = "reason" if msg.get("reason") is not None else "stop_reason"
    value = _opt_int(msg, key, where, lo=_INT32_MIN, hi=_INT32_MAX)
    return None if value is None else _known(StopReason, value)


def _user_id(content: Mapping[str, object], where: str) -> int:
    # §2.3 message 14: mixed audio carries user_id 0, and Contact Center streams carry channel_id
    # instead; the doc's join example even shows user_id as a string.
    if content.get("user_id") is None:
        return 0
    return _numeric_id(content, "user_id", where, lo=0)


def _parse_signaling_resp(msg: dict[str, object]) -> SignalingHandshakeResp:
    where = "msg"
    urls: dict[str, str] = {}
    server = msg.get("media_server")
    if server is not None:
        raw_urls = _require_dict(server, "msg.media_server").get("server_urls")
        if raw_urls is not None:
            url_map = _require_dict(raw_urls, "msg.media_server.server_urls")
            for key in url_map:
                if len(key) > _MAX_EVENT_NAME:
                    raise ProtocolError("msg.media_server.server_urls: key too long")
                urls[key] = _str(url_map, key, "msg.media_server.server_urls", max_len=_MAX_URL)
    return SignalingHandshakeResp(
        status_code=_status(msg, where), reason=_reason_text(msg, where), media_urls=urls
    )


def _parse_media(msg: dict[str, object], msg_type: int) -> TranscriptData | AudioData:
    where = "msg.content"
    content = _require_dict(msg.get("content"), where)
    user_id = _user_id(content, where)
    user_name = _opt_str(content, "user_name", where) or ""
    timestamp = _int(content, "timestamp", where)
    if msg_type == MessageType.MEDIA_DATA_TRANSCRIPT:
        # §2.3 message 17: `data` is UTF-8 text, not base64.
        return TranscriptData(
            user_id=user_id,
            user_name=user_name,
            text=_str(content, "data", where, max_len=1_000_000),
            start_time=_int(content, "start_time", where),
            end_time=_int(content, "end_time", where),
            timestamp=timestamp,
            language=_opt_int(content, "language", where, lo=_INT32_MIN, hi=_INT32_MAX),
        )
    encoded = content.get("data")
    if not isinstance(encoded, str):
        raise ProtocolError(f"{where}.data: expected a base64 string")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(f"{where}.data: invalid base64") from None
    return AudioData(user_id=user_id, user_name=user_name, data=data, timestamp=timestamp)


def parse_rtms_message(obj: object) -> RtmsMessage:
    """One decoded JSON frame from an RTMS signaling or media socket."""
    try:
        return _parse_rtms_message(obj)
    except ProtocolError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError, RecursionError) as exc:
        raise ProtocolError(f"malformed RTMS message ({type(exc).__name__})") from None


def _parse_rtms_message(obj: object) -> RtmsMessage:
    msg = _require_dict(obj, "msg")
    msg_type = _int(msg, "msg_type", "msg", lo=_INT32_MIN, hi=_INT32_MAX)
    where = "msg"
    if msg_type == MessageType.SIGNALING_HAND_SHAKE_RESP:
        return _parse_signaling_resp(msg)
    if msg_type == MessageType.DATA_HAND_SHAKE_RESP:
        params = msg.get("media_params")
        return DataHandshakeResp(
            status_code=_status(msg, where),
            reason=_reason_text(msg, where),
            media_params={} if params is None else _require_dict(params, "msg.media_params"),
        )
    if msg_type == MessageType.STREAM_STATE_UPDATE:
        return StreamStateUpdate(
            state=_known(ZoomStreamState, _int(msg, "state", where, lo=_INT32_MIN, hi=_INT32_MAX)),
            reason=_stop_reason(msg, where),
            timestamp=_opt_int(msg, "timestamp", where),
        )
    if msg_type == MessageType.SESSION_STATE_UPDATE:
        return SessionStateUpdate(
            state=_known(SessionState, _int(msg, "state", where, lo=_INT32_MIN, hi=_INT32_MAX)),
            reason=_stop_reason(msg, where),
            rtms_session_id=_opt_id(msg, "rtms_session_id", where),
            timestamp=_opt_int(msg, "timestamp", where),
        )
    if msg_type == MessageType.EVENT_UPDATE:
        event = _require_dict(msg.get("event"), "msg.event")
        event_type = _int(event, "event_type", "msg.event", lo=_INT32_MIN, hi=_INT32_MAX)
        return EventUpdate(event_type=_known(EventType, event_type), event=event)
    if msg_type == MessageType.KEEP_ALIVE_REQ:
        return KeepAliveReq(
            timestamp=_int(msg, "timestamp", where), sequence=_opt_int(msg, "sequence", where)
        )
    if msg_type in (MessageType.MEDIA_DATA_TRANSCRIPT, MessageType.MEDIA_DATA_AUDIO):
        return _parse_media(msg, msg_type)
    if msg_type == MessageType.STREAM_CLOSE_RESP:
        return StreamCloseResp(
            status_code=_status(msg, where),
            reason=_reason_text(msg, where),
            rtms_stream_id=_opt_id(msg, "rtms_stream_id", where),
            timestamp=_opt_int(msg, "timestamp", where),
        )
    return UnknownMessage(msg_type=msg_type, raw=msg)
