"""The protocol's numeric codes (zoom-protocol.md §2.2, §2.4) as enums.

Names drop Zoom's STATUS_/STOP_BC_/LANGUAGE_ID_ prefixes: the class name says it. Parsers keep a value
Zoom adds later as a bare int rather than refusing it (see ``fields._known``).
"""

from __future__ import annotations

import enum

__all__ = [
    "AudioChannel",
    "Codec",
    "ContentType",
    "DataOption",
    "EventType",
    "MediaResolution",
    "MediaType",
    "MessageType",
    "SampleRate",
    "SessionState",
    "StatusCode",
    "StopReason",
    "TranscriptLanguage",
    "ZoomStreamState",
]


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
class ZoomStreamState(enum.IntEnum):
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
