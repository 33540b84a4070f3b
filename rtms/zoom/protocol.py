"""Zoom RTMS and event-delivery protocol: enumerations, message types, pure parsing and builders.

Everything here follows /work/shared/docs/zoom-protocol.md (cited per section). No I/O, no settings,
no logging. Parsers take decoded JSON (``object``) from the network, so they treat every input as
hostile: anything malformed raises :class:`ProtocolError`, never another exception. Error messages
name the offending field but never echo its value, which may be personal data or huge.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal, TypeAlias, TypeVar
from urllib.parse import urlsplit

__all__ = [
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
    "StreamState",
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
    "client_ready_ack",
    "data_centre_hint",
    "dedupe_key",
    "event_subscription",
    "heartbeat_frame",
    "keep_alive_resp",
    "media_handshake_req",
    "parse_event",
    "parse_rtms_message",
    "parse_ws_frame",
    "signaling_handshake_req",
    "stream_close_req",
]


class ProtocolError(ValueError):
    """Input that does not follow the Zoom protocol. The message names the field, not its value."""


# ---------------------------------------------------------------------------------------------------
# Enumerations. Names drop Zoom's STATUS_/STOP_BC_/LANGUAGE_ID_ prefixes: the class name says it.
# ---------------------------------------------------------------------------------------------------


# zoom-protocol.md §2.2
class MessageType(enum.IntEnum):
    UNDEFINED = 0
    SIGNALING_HAND_SHAKE_REQ = 1
    SIGNALING_HAND_SHAKE_RESP = 2
    DATA_HAND_SHAKE_REQ = 3
    DATA_HAND_SHAKE_RESP = 4
    EVENT_SUBSCRIPTION = 5
    EVENT_UPDATE = 6
    CLIENT_READY_ACK = 7
    STREAM_STATE_UPDATE = 8
    SESSION_STATE_UPDATE = 9
    SESSION_STATE_REQ = 10
    SESSION_STATE_RESP = 11
    KEEP_ALIVE_REQ = 12
    KEEP_ALIVE_RESP = 13
    MEDIA_DATA_AUDIO = 14
    MEDIA_DATA_VIDEO = 15
    MEDIA_DATA_SHARE = 16
    MEDIA_DATA_TRANSCRIPT = 17
    MEDIA_DATA_CHAT = 18
    STREAM_STATE_REQ = 19
    STREAM_STATE_RESP = 20
    STREAM_CLOSE_REQ = 21
    STREAM_CLOSE_RESP = 22
    META_DATA_AUDIO = 23
    META_DATA_VIDEO = 24
    META_DATA_SHARE = 25
    META_DATA_TRANSCRIPT = 26
    META_DATA_CHAT = 27
    VIDEO_SUBSCRIPTION_REQ = 28
    VIDEO_SUBSCRIPTION_RESP = 29


# zoom-protocol.md §2.4.1: a bitmask, but ALL (32) is its own flag, not AUDIO|...|CHAT (31).
class MediaType(enum.IntFlag):
    UNDEFINED = 0
    AUDIO = 1
    VIDEO = 2
    DESKSHARE = 4
    TRANSCRIPT = 8
    CHAT = 16
    ALL = 32


# zoom-protocol.md §2.4.2
class ContentType(enum.IntEnum):
    UNDEFINED = 0
    RTP = 1
    RAW_AUDIO = 2
    RAW_VIDEO = 3
    FILE_STREAM = 4
    TEXT = 5


# zoom-protocol.md §2.4.3 (MEDIA_PAYLOAD_TYPE)
class Codec(enum.IntEnum):
    UNDEFINED = 0
    L16 = 1
    G711 = 2
    G722 = 3
    OPUS = 4
    JPG = 5
    PNG = 6
    H264 = 7


# zoom-protocol.md §2.4.4
class SampleRate(enum.IntEnum):
    SR_8K = 0
    SR_16K = 1
    SR_32K = 2
    SR_48K = 3


# zoom-protocol.md §2.4.4
class AudioChannel(enum.IntEnum):
    MONO = 1
    STEREO = 2


# zoom-protocol.md §2.4.4
class MediaResolution(enum.IntEnum):
    SD = 1
    HD = 2
    FHD = 3
    QHD = 4


# zoom-protocol.md §2.4.5. 5 exists only in the SDK and the beta docs; kept so a value the SDK can
# send still parses.
class DataOption(enum.IntEnum):
    UNDEFINED = 0
    AUDIO_MIXED_STREAM = 1
    AUDIO_MULTI_STREAMS = 2
    VIDEO_SINGLE_ACTIVE_STREAM = 3
    VIDEO_SINGLE_INDIVIDUAL_STREAM = 4
    VIDEO_MIXED_GALLERY_VIEW = 5


# zoom-protocol.md §2.4.6 (10-14 from the July 2026 changelog). Contact Center voice events (§2.4.7)
# reuse 8+ with other meanings and are not modelled: this control plane does not run ZCC streams.
class EventType(enum.IntEnum):
    UNDEFINED = 0
    FIRST_PACKET_TIMESTAMP = 1
    ACTIVE_SPEAKER_CHANGE = 2
    PARTICIPANT_JOIN = 3
    PARTICIPANT_LEAVE = 4
    SHARING_START = 5
    SHARING_STOP = 6
    MEDIA_CONNECTION_INTERRUPTED = 7
    PARTICIPANT_VIDEO_ON = 8
    PARTICIPANT_VIDEO_OFF = 9
    CHAT_GROUP_CREATE = 10
    CHAT_GROUP_DELETE = 11
    CHAT_GROUP_MEMBERS_ADD = 12
    CHAT_GROUP_MEMBERS_DELETE = 13
    CHAT_GROUP_MEMBER_STATUS_UPDATE = 14


# zoom-protocol.md §2.4.8
class SessionState(enum.IntEnum):
    INACTIVE = 0
    INITIALIZE = 1
    STARTED = 2
    PAUSED = 3
    RESUMED = 4
    STOPPED = 5


# zoom-protocol.md §2.4.8
class StreamState(enum.IntEnum):
    INACTIVE = 0
    ACTIVE = 1
    INTERRUPTED = 2
    TERMINATING = 3
    TERMINATED = 4
    PAUSED = 5
    RESUMED = 6


# zoom-protocol.md §2.4.9: the current 0-45 table. The beta-era numbering (15 = INVALID_SIGNATURE)
# is deliberately not supported.
class StatusCode(enum.IntEnum):
    OK = 0
    INVALID_MESSAGE_TYPE = 1
    INVALID_RTMS_STREAM_ID = 2
    INVALID_SIGNATURE = 3
    INVALID_PAYLOAD = 4
    INVALID_EVENTS = 5
    INVALID_EVENT_TYPE = 6
    INVALID_MEDIA_TYPE = 7
    DUPLICATE_SIGNAL_REQUEST = 8
    MEDIA_TYPE_AUDIO_NOT_SUPPORT = 9
    MEDIA_TYPE_VIDEO_NOT_SUPPORT = 10
    MEDIA_TYPE_DESKSHARE_NOT_SUPPORT = 11
    MEDIA_TYPE_TRANSCRIPT_NOT_SUPPORT = 12
    MEDIA_TYPE_CHAT_NOT_SUPPORT = 13
    MEDIA_TYPE_INVALID_VALUE = 14
    MEDIA_DATA_ALL_CONNECTION_EXIST = 15
    DUPLICATE_MEDIA_DATA_CONNECTION = 16
    INVALID_MEDIA_PARAMS = 17
    INVALID_MEDIA_AUDIO_PARAMS = 18
    INVALID_MEDIA_AUDIO_CONTENT_TYPE = 19
    INVALID_MEDIA_AUDIO_SAMPLE_RATE = 20
    INVALID_MEDIA_AUDIO_CHANNEL = 21
    INVALID_MEDIA_AUDIO_CODEC = 22
    INVALID_MEDIA_AUDIO_DATA_OPT = 23
    INVALID_MEDIA_AUDIO_SEND_RATE = 24
    INVALID_MEDIA_VIDEO_PARAMS = 25
    INVALID_MEDIA_VIDEO_CONTENT_TYPE = 26
    INVALID_MEDIA_VIDEO_CODEC = 27
    INVALID_MEDIA_VIDEO_RESOLUTION = 28
    INVALID_MEDIA_VIDEO_DATA_OPT = 29
    INVALID_MEDIA_VIDEO_FPS = 30
    INVALID_MEDIA_DESKSHARE_PARAMS = 31
    INVALID_MEDIA_DESKSHARE_CONTENT_TYPE = 32
    INVALID_MEDIA_DESKSHARE_CODEC = 33
    INVALID_MEDIA_DESKSHARE_RESOLUTION = 34
    INVALID_MEDIA_DESKSHARE_FPS = 35
    INVALID_MEDIA_TRANSCRIPT_PARAMS = 36
    INVALID_MEDIA_TRANSCRIPT_CONTENT_TYPE = 37
    INVALID_MEDIA_CHAT_PARAMS = 38
    INVALID_MEDIA_CHAT_CONTENT_TYPE = 39
    INVALID_RTMS_SESSION_ID = 40
    INVALID_CLIENT_READY_ACK = 41
    INVALID_EVENT_SUBSCRIBE = 42
    INVALID_MEDIA_TRANSCRIPT_SOURCE_LANGUAGE = 43
    DUPLICATE_VIDEO_SUBSCRIPTION = 44
    INTERNAL_EXCEPTION = 45


# zoom-protocol.md §2.4.10. What each reason means for us lives in rtms/zoom/stop_policy.py.
class StopReason(enum.IntEnum):
    UNDEFINED = 0
    HOST_TRIGGERED = 1
    USER_TRIGGERED = 2
    USER_LEFT = 3
    USER_EJECTED = 4
    HOST_DISABLED_APP = 5
    MEETING_ENDED = 6
    STREAM_CANCELED = 7
    STREAM_REVOKED = 8
    ALL_APPS_DISABLED = 9
    INTERNAL_EXCEPTION = 10
    CONNECTION_TIMEOUT = 11
    INSTANCE_CONNECTION_INTERRUPTED = 12
    SIGNAL_CONNECTION_INTERRUPTED = 13
    DATA_CONNECTION_INTERRUPTED = 14
    SIGNAL_CONNECTION_CLOSED_ABNORMALLY = 15
    DATA_CONNECTION_CLOSED_ABNORMALLY = 16
    EXIT_SIGNAL = 17
    AUTHENTICATION_FAILURE = 18
    AWAIT_RECONNECTION_TIMEOUT = 19
    RECEIVER_REQUEST_CLOSE = 20
    CUSTOMER_DISCONNECTED = 21
    AGENT_DISCONNECTED = 22
    ADMIN_DISABLED_APP = 23
    KEEP_ALIVE_TIMEOUT = 24
    MANUAL_API_TRIGGERED = 25
    STREAMING_NOT_SUPPORTED = 26


# zoom-protocol.md §2.4.11
class TranscriptLanguage(enum.IntEnum):
    NONE = -1
    ARABIC = 0
    BENGALI = 1
    CANTONESE = 2
    CATALAN = 3
    CHINESE_SIMPLIFIED = 4
    CHINESE_TRADITIONAL = 5
    CZECH = 6
    DANISH = 7
    DUTCH = 8
    ENGLISH = 9
    ESTONIAN = 10
    FINNISH = 11
    FRENCH_CANADA = 12
    FRENCH_FRANCE = 13
    GERMAN = 14
    HEBREW = 15
    HINDI = 16
    HUNGARIAN = 17
    INDONESIAN = 18
    ITALIAN = 19
    JAPANESE = 20
    KOREAN = 21
    MALAY = 22
    PERSIAN = 23
    POLISH = 24
    PORTUGUESE = 25
    ROMANIAN = 26
    RUSSIAN = 27
    SPANISH = 28
    SWEDISH = 29
    TAGALOG = 30
    TAMIL = 31
    TELUGU = 32
    THAI = 33
    TURKISH = 34
    UKRAINIAN = 35
    VIETNAMESE = 36


# ---------------------------------------------------------------------------------------------------
# Field validation. Bounds exist so that a hostile body cannot make us store or key on megabytes.
# ---------------------------------------------------------------------------------------------------

_INT64_MAX: Final = 2**63 - 1
_INT64_MIN: Final = -(2**63)
_INT32_MAX: Final = 2**31 - 1
_INT32_MIN: Final = -(2**31)
_MAX_EVENT_NAME: Final = 128
_MAX_ID: Final = 256
_MAX_TEXT: Final = 2048
_MAX_URL: Final = 2048
_MAX_SERVER_URLS: Final = 8192
_MAX_MEETING_ID_DIGITS: Final = 19

_UNSTORABLE: Final = re.compile("[\x00\ud800-\udfff]")

_E = TypeVar("_E", bound=enum.IntEnum)


def _require_dict(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ProtocolError(f"{where}: expected an object")
    # JSON objects only ever have string keys; anything else was not decoded from JSON.
    if not all(isinstance(k, str) for k in value):
        raise ProtocolError(f"{where}: expected string keys")
    return value


def _int(
    obj: Mapping[str, object], key: str, where: str, *, lo: int = _INT64_MIN, hi: int = _INT64_MAX
) -> int:
    value = obj.get(key)
    # bool is an int subclass, and true/false are never valid numbers in this protocol.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(f"{where}.{key}: expected an integer")
    if not lo <= value <= hi:
        raise ProtocolError(f"{where}.{key}: out of range")
    return value


def _opt_int(
    obj: Mapping[str, object], key: str, where: str, *, lo: int = _INT64_MIN, hi: int = _INT64_MAX
) -> int | None:
    if obj.get(key) is None:
        return None
    return _int(obj, key, where, lo=lo, hi=hi)


def _str(obj: Mapping[str, object], key: str, where: str, *, max_len: int = _MAX_TEXT) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ProtocolError(f"{where}.{key}: expected a string")
    if len(value) > max_len:
        raise ProtocolError(f"{where}.{key}: too long")
    # PostgreSQL text cannot hold NUL, and a lone surrogate (which "\udcff" in JSON decodes to)
    # cannot be encoded as UTF-8 at all; both would fail later, far from here.
    if _UNSTORABLE.search(value):
        raise ProtocolError(f"{where}.{key}: contains NUL or a lone surrogate")
    return value


def _opt_str(obj: Mapping[str, object], key: str, where: str, *, max_len: int = _MAX_TEXT) -> str | None:
    if obj.get(key) is None:
        return None
    return _str(obj, key, where, max_len=max_len)


def _id(obj: Mapping[str, object], key: str, where: str) -> str:
    """An opaque Zoom identifier: non-empty, bounded, printable (it ends up in keys, URLs and logs)."""
    value = _str(obj, key, where, max_len=_MAX_ID)
    if not value or not value.isprintable():
        raise ProtocolError(f"{where}.{key}: expected a non-empty printable identifier")
    return value


def _opt_id(obj: Mapping[str, object], key: str, where: str) -> str | None:
    if obj.get(key) is None:
        return None
    return _id(obj, key, where)


# zoom-protocol.md §4.6: meeting ids are numeric, but Rivet and the doc example type `object.id` as a
# string, so both spellings are accepted. Only ASCII digits: str.isdigit() also accepts "²".
def _numeric_id(obj: Mapping[str, object], key: str, where: str, *, lo: int) -> int:
    value = obj.get(key)
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit() and len(value) <= _MAX_MEETING_ID_DIGITS):
            raise ProtocolError(f"{where}.{key}: expected a numeric id")
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise ProtocolError(f"{where}.{key}: expected a numeric id")
    if not lo <= number <= _INT64_MAX:
        raise ProtocolError(f"{where}.{key}: out of range")
    return number


def _meeting_id(obj: Mapping[str, object], key: str, where: str) -> int:
    return _numeric_id(obj, key, where, lo=1)


def _opt_meeting_id(obj: Mapping[str, object], key: str, where: str) -> int | None:
    if obj.get(key) is None:
        return None
    return _meeting_id(obj, key, where)


def _known(enum_cls: type[_E], value: int) -> _E | int:
    """The enum member when Zoom sends a value we know; the bare int when it sends a newer one."""
    try:
        return enum_cls(value)
    except ValueError:
        return value


def _opt_datetime(obj: Mapping[str, object], key: str, where: str) -> datetime | None:
    raw = _opt_str(obj, key, where, max_len=64)
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
        # Zoom sends UTC with a "Z"; a string without an offset is read as UTC, not local time.
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        # Shifting year 1 or 9999 by an offset leaves datetime's range (OverflowError).
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ProtocolError(f"{where}.{key}: expected an ISO 8601 date-time") from None


# ---------------------------------------------------------------------------------------------------
# Webhook / event-subscription events (zoom-protocol.md §4.6)
# ---------------------------------------------------------------------------------------------------

# Webinar RTMS events use the same classes: the handshake signs the webinar_uuid and sends it in the
# `meeting_uuid` key (§2.3, §3), so the gateway treats both alike, and `product` says which it was.
# Video SDK sessions and Contact Center engagements are UnknownEvent: other credentials, other ids.
Product: TypeAlias = Literal["meeting", "webinar"]


@dataclass(frozen=True, slots=True)
class TrackingField:
    field: str
    value: str


# zoom-protocol.md §4.6 (meeting.started / meeting.ended, Rivet shape). Personal data is kept out of
# repr() so that a traceback or a careless log line does not carry it.
@dataclass(frozen=True, slots=True)
class MeetingStarted:
    event: str
    event_ts: int
    account_id: str
    meeting_uuid: str
    meeting_id: int
    host_id: str
    host_email: str | None = field(repr=False)
    topic: str = field(repr=False)
    start_time: datetime | None
    tracking_fields: tuple[TrackingField, ...] | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class MeetingEnded:
    event: str
    event_ts: int
    account_id: str
    meeting_uuid: str
    meeting_id: int
    host_id: str
    host_email: str | None = field(repr=False)
    topic: str = field(repr=False)
    start_time: datetime | None
    end_time: datetime | None
    tracking_fields: tuple[TrackingField, ...] | None = field(default=None, repr=False)


# zoom-protocol.md §4.6 (RTMS payloads are flat, not under `object`). For webinars `meeting_uuid`
# holds the webinar_uuid and `meeting_id` the webinar_id.
@dataclass(frozen=True, slots=True)
class RtmsStarted:
    event: str
    event_ts: int
    meeting_uuid: str
    rtms_stream_id: str
    server_urls: tuple[str, ...]
    operator_id: str
    account_id: str | None = None
    meeting_id: int | None = None
    product: Product = "meeting"


# `stop_reason` is a StopReason when Zoom sends a value we know and the bare int otherwise, so a
# reason added by Zoom tomorrow still stops the stream (and stop_policy() files it as UNKNOWN).
@dataclass(frozen=True, slots=True)
class RtmsStopped:
    event: str
    event_ts: int
    meeting_uuid: str
    rtms_stream_id: str
    stop_reason: StopReason | int
    product: Product = "meeting"


@dataclass(frozen=True, slots=True)
class RtmsInterrupted:
    event: str
    event_ts: int
    meeting_uuid: str
    rtms_stream_id: str
    product: Product = "meeting"


# zoom-protocol.md §4.6. Both names Zoom has used are accepted (naming conflict in the changelog).
@dataclass(frozen=True, slots=True)
class ConcurrencyLimited:
    event: str
    event_ts: int
    operator_id: str
    concurrency_number: int
    id_field: dict[str, str]


# zoom-protocol.md §4.3
@dataclass(frozen=True, slots=True)
class UrlValidation:
    event: str
    event_ts: int
    plain_token: str


# Anything else Zoom sends: stored in the inbox, never an error, so a new event type cannot make
# the webhook fail and Zoom disable the subscription.
@dataclass(frozen=True, slots=True)
class UnknownEvent:
    event: str
    event_ts: int


ZoomEvent: TypeAlias = (
    MeetingStarted
    | MeetingEnded
    | RtmsStarted
    | RtmsStopped
    | RtmsInterrupted
    | ConcurrencyLimited
    | UrlValidation
    | UnknownEvent
)

_RTMS_PRODUCTS: Final[Mapping[str, tuple[Product, str, str]]] = {
    # prefix: (product, key of the instance uuid, key of the numeric id)
    "meeting": ("meeting", "meeting_uuid", "meeting_id"),
    "webinar": ("webinar", "webinar_uuid", "webinar_id"),
}


def _tracking_fields(obj: Mapping[str, object], where: str) -> tuple[TrackingField, ...] | None:
    # None means "the event did not say", which residency routing must tell apart from "none set".
    raw = obj.get("tracking_fields")
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise ProtocolError(f"{where}.tracking_fields: expected a list")
    if len(raw) > 100:
        raise ProtocolError(f"{where}.tracking_fields: too many")
    fields: list[TrackingField] = []
    for i, item in enumerate(raw):
        item_where = f"{where}.tracking_fields[{i}]"
        entry = _require_dict(item, item_where)
        fields.append(
            TrackingField(
                field=_str(entry, "field", item_where, max_len=_MAX_ID),
                value=_opt_str(entry, "value", item_where) or "",
            )
        )
    return tuple(fields)


def _parse_meeting(event: str, event_ts: int, payload: dict[str, object]) -> MeetingStarted | MeetingEnded:
    account_id = _id(payload, "account_id", "payload")
    obj = _require_dict(payload.get("object"), "payload.object")
    where = "payload.object"
    meeting_uuid = _id(obj, "uuid", where)
    meeting_id = _meeting_id(obj, "id", where)
    host_id = _id(obj, "host_id", where)
    host_email = _opt_str(obj, "host_email", where, max_len=320) or None
    topic = _opt_str(obj, "topic", where) or ""
    start_time = _opt_datetime(obj, "start_time", where)
    tracking_fields = _tracking_fields(obj, where)
    if event == "meeting.started":
        return MeetingStarted(
            event=event,
            event_ts=event_ts,
            account_id=account_id,
            meeting_uuid=meeting_uuid,
            meeting_id=meeting_id,
            host_id=host_id,
            host_email=host_email,
            topic=topic,
            start_time=start_time,
            tracking_fields=tracking_fields,
        )
    return MeetingEnded(
        event=event,
        event_ts=event_ts,
        account_id=account_id,
        meeting_uuid=meeting_uuid,
        meeting_id=meeting_id,
        host_id=host_id,
        host_email=host_email,
        topic=topic,
        start_time=start_time,
        end_time=_opt_datetime(obj, "end_time", where),
        tracking_fields=tracking_fields,
    )


def _split_server_urls(payload: Mapping[str, object]) -> tuple[str, ...]:
    # zoom-protocol.md §2.1: one string, "multiple URLs for different protocols will be separated by
    # commas". Other schemes are kept: choosing the WebSocket one is the gateway's business.
    raw = _str(payload, "server_urls", "payload", max_len=_MAX_SERVER_URLS)
    urls = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not urls:
        raise ProtocolError("payload.server_urls: no URL")
    for url in urls:
        if len(url) > _MAX_URL or not url.isprintable() or any(c.isspace() for c in url):
            raise ProtocolError("payload.server_urls: malformed URL")
    return urls


def _parse_rtms(event: str, event_ts: int, payload: dict[str, object]) -> ZoomEvent:
    prefix, _, kind = event.partition(".")
    product, uuid_key, id_key = _RTMS_PRODUCTS[prefix]
    instance_uuid = _id(payload, uuid_key, "payload")
    stream_id = _id(payload, "rtms_stream_id", "payload")
    if kind == "rtms_started":
        return RtmsStarted(
            event=event,
            event_ts=event_ts,
            meeting_uuid=instance_uuid,
            rtms_stream_id=stream_id,
            server_urls=_split_server_urls(payload),
            operator_id=_id(payload, "operator_id", "payload"),
            account_id=_opt_id(payload, "account_id", "payload"),
            meeting_id=_opt_meeting_id(payload, id_key, "payload"),
            product=product,
        )
    if kind == "rtms_stopped":
        reason = _int(payload, "stop_reason", "payload", lo=_INT32_MIN, hi=_INT32_MAX)
        return RtmsStopped(
            event=event,
            event_ts=event_ts,
            meeting_uuid=instance_uuid,
            rtms_stream_id=stream_id,
            stop_reason=_known(StopReason, reason),
            product=product,
        )
    return RtmsInterrupted(
        event=event, event_ts=event_ts, meeting_uuid=instance_uuid, rtms_stream_id=stream_id, product=product
    )


# zoom-protocol.md §4.6: `id_field` carries whichever id the product uses; the meeting-named variant
# of the event puts `meeting_uuid` at the top level instead.
def _parse_concurrency(event: str, event_ts: int, payload: dict[str, object]) -> ConcurrencyLimited:
    id_field: dict[str, str] = {}
    raw = payload.get("id_field")
    if raw is not None:
        raw_ids = _require_dict(raw, "payload.id_field")
        if len(raw_ids) > 8:
            raise ProtocolError("payload.id_field: too many keys")
        for key in raw_ids:
            if len(key) > _MAX_EVENT_NAME:
                raise ProtocolError("payload.id_field: key too long")
            id_field[key] = _id(raw_ids, key, "payload.id_field")
    if "meeting_uuid" not in id_field and payload.get("meeting_uuid") is not None:
        id_field["meeting_uuid"] = _id(payload, "meeting_uuid", "payload")
    return ConcurrencyLimited(
        event=event,
        event_ts=event_ts,
        operator_id=_id(payload, "operator_id", "payload"),
        concurrency_number=_int(payload, "concurrency_number", "payload", lo=0),
        id_field=id_field,
    )


_MEETING_EVENTS: Final = frozenset({"meeting.started", "meeting.ended"})
_RTMS_EVENTS: Final = frozenset(
    f"{prefix}.{kind}"
    for prefix in _RTMS_PRODUCTS
    for kind in ("rtms_started", "rtms_stopped", "rtms_interrupted")
)
_CONCURRENCY_EVENTS: Final = frozenset({"rtms.concurrency_limited", "meeting.rtms_concurrency_limited"})
_URL_VALIDATION: Final = "endpoint.url_validation"


# zoom-protocol.md §4.1: `{"event", "event_ts" (ms), "payload"}`, the same over the webhook and inside
# an event-subscription WebSocket message (§5).
def parse_event(body: object) -> ZoomEvent:
    try:
        return _parse_event(body)
    except ProtocolError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError, RecursionError) as exc:
        # A last line of defence: the helpers above should already have named the field.
        raise ProtocolError(f"malformed event ({type(exc).__name__})") from None


def _parse_event(body: object) -> ZoomEvent:
    top = _require_dict(body, "body")
    event = _str(top, "event", "body", max_len=_MAX_EVENT_NAME)
    if not event or not event.isprintable():
        raise ProtocolError("body.event: expected a non-empty printable name")
    event_ts = _int(top, "event_ts", "body", lo=0)
    if event == _URL_VALIDATION:
        payload = _require_dict(top.get("payload"), "body.payload")
        token = _str(payload, "plainToken", "payload", max_len=_MAX_ID)
        if not token:
            raise ProtocolError("payload.plainToken: empty")
        return UrlValidation(event=event, event_ts=event_ts, plain_token=token)
    if event in _MEETING_EVENTS:
        return _parse_meeting(event, event_ts, _require_dict(top.get("payload"), "body.payload"))
    if event in _RTMS_EVENTS:
        return _parse_rtms(event, event_ts, _require_dict(top.get("payload"), "body.payload"))
    if event in _CONCURRENCY_EVENTS:
        return _parse_concurrency(event, event_ts, _require_dict(top.get("payload"), "body.payload"))
    return UnknownEvent(event=event, event_ts=event_ts)


# ---------------------------------------------------------------------------------------------------
# Dedupe keys (zoom-protocol.md §4.5)
# ---------------------------------------------------------------------------------------------------

DEDUPE_KEY_MAX_LEN: Final = 255


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical_json(value: object) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        raise ProtocolError("body: not JSON-serialisable") from None


def dedupe_key(event: ZoomEvent, body: object) -> str:
    """The inbox's unique key for one Zoom event, the same whichever channel delivered it.

    ``body`` is the decoded body ``event`` was parsed from; only events without a natural id use it.
    """
    # zoom-protocol.md §4.5: event_ts is part of every key. Keying RTMS events on the stream alone
    # would swallow a failover, which re-sends rtms_started for the same stream id with a new
    # event_ts and new server_urls.
    if isinstance(event, RtmsStarted | RtmsStopped | RtmsInterrupted):
        return _bounded(event.event, event.rtms_stream_id, event.event_ts)
    if isinstance(event, MeetingStarted | MeetingEnded):
        return _bounded(event.event, event.meeting_uuid, event.event_ts)
    # No natural id: the body is all we have, canonicalised so the webhook's and the WebSocket's
    # serialisations of the same event agree.
    payload = body.get("payload") if isinstance(body, dict) else None
    digest = _sha256(_canonical_json([event.event, event.event_ts, payload]))
    return f"{event.event}:{event.event_ts}:{digest}"


def _bounded(name: str, natural_id: str, event_ts: int) -> str:
    key = f"{name}:{natural_id}:{event_ts}"
    if len(key) <= DEDUPE_KEY_MAX_LEN:
        return key
    # Event names are at most 128 characters, so name + ":h:" + 64 hex characters always fits.
    return f"{name}:h:{_sha256(f'{natural_id}:{event_ts}')}"


# ---------------------------------------------------------------------------------------------------
# Data-centre hint (zoom-protocol.md §2.1: real URLs carry codes such as rtms-sjc1.zoom.us, UNCONFIRMED)
# ---------------------------------------------------------------------------------------------------

_DC_LABEL = re.compile(r"rtms-([a-z0-9]{2,16})", re.IGNORECASE)


def data_centre_hint(server_urls: Sequence[str]) -> str | None:
    """The Zoom data centre named in the first URL that names one, for the residency audit."""
    urls: Iterable[object] = (server_urls,) if isinstance(server_urls, str) else server_urls
    for url in urls:
        if not isinstance(url, str) or len(url) > _MAX_URL:
            continue
        try:
            parts = urlsplit(url.strip())
            host = parts.hostname or ""
        except ValueError:
            continue
        for segment in (*host.split("."), *parts.path.split("/")):
            match = _DC_LABEL.fullmatch(segment)
            if match:
                return match.group(1).lower()
    return None


# ---------------------------------------------------------------------------------------------------
# Event-subscription WebSocket frames (zoom-protocol.md §5; formats UNCONFIRMED by Zoom's docs)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BuildConnection:
    success: bool
    content: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    pass


@dataclass(frozen=True, slots=True)
class WsMessage:
    event_body: dict[str, object]


@dataclass(frozen=True, slots=True)
class UnknownFrame:
    module: str
    raw: dict[str, object] = field(repr=False)


WsFrame: TypeAlias = BuildConnection | Heartbeat | WsMessage | UnknownFrame


def _loads(text: str | bytes, where: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise ProtocolError(f"{where}: invalid JSON") from None


def parse_ws_frame(text: str) -> WsFrame:
    if not isinstance(text, str | bytes):
        raise ProtocolError("frame: expected text")
    frame = _require_dict(_loads(text, "frame"), "frame")
    module = _str(frame, "module", "frame", max_len=_MAX_EVENT_NAME)
    if module == "heartbeat":
        return Heartbeat()
    if module == "build_connection":
        success = frame.get("success")
        if not isinstance(success, bool):
            raise ProtocolError("frame.success: expected a boolean")
        return BuildConnection(success=success, content=_opt_str(frame, "content", "frame") or "")
    if module == "message":
        content = frame.get("content")
        # §5 says `content` is a JSON-encoded string; an already-decoded object is accepted too,
        # since the format is not in Zoom's official docs.
        decoded = _loads(content, "frame.content") if isinstance(content, str) else content
        return WsMessage(event_body=_require_dict(decoded, "frame.content"))
    return UnknownFrame(module=module, raw=frame)


# zoom-protocol.md §5: the client sends this every 30 s.
def heartbeat_frame() -> str:
    return json.dumps({"module": "heartbeat"}, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------------
# RTMS signaling/media messages: builders (zoom-protocol.md §2.3). Enums go out as plain ints (§2.1).
# ---------------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------------
# RTMS signaling/media messages: parsing (zoom-protocol.md §2.3). Unknown extra keys are tolerated
# because the SDK and the docs disagree on several (§8 item 16).
# ---------------------------------------------------------------------------------------------------


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
    state: StreamState | int
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
            state=_known(StreamState, _int(msg, "state", where, lo=_INT32_MIN, hi=_INT32_MAX)),
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
