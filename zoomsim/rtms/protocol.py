"""The RTMS wire values zoomsim speaks (zoom-protocol.md §2.2, §2.4): message types, status codes,
stream and session states, events, stop reasons and media type bits. No I/O."""

from __future__ import annotations

# msg_type (§2.2)
SIG_HS_REQ, SIG_HS_RESP, DATA_HS_REQ, DATA_HS_RESP = 1, 2, 3, 4
EVENT_SUBSCRIPTION, EVENT_UPDATE, CLIENT_READY_ACK = 5, 6, 7
STREAM_STATE_UPDATE, SESSION_STATE_UPDATE, SESSION_STATE_REQ, SESSION_STATE_RESP = 8, 9, 10, 11
KEEP_ALIVE_REQ, KEEP_ALIVE_RESP = 12, 13
MEDIA_AUDIO, MEDIA_TRANSCRIPT = 14, 17
STREAM_STATE_REQ, STREAM_STATE_RESP, STREAM_CLOSE_REQ, STREAM_CLOSE_RESP = 19, 20, 21, 22
VIDEO_SUB_REQ, VIDEO_SUB_RESP = 28, 29

# status codes (§2.4.9)
ST_OK, ST_BAD_MSG_TYPE, ST_BAD_STREAM, ST_BAD_SIGNATURE, ST_BAD_PAYLOAD = 0, 1, 2, 3, 4
ST_BAD_MEDIA_TYPE, ST_DUP_SIGNAL, ST_ALL_EXISTS, ST_DUP_MEDIA = 7, 8, 15, 16

# stream states, session states, events, stop reasons (§2.4)
SS_ACTIVE, SS_INTERRUPTED, SS_TERMINATED, SS_PAUSED, SS_RESUMED = 1, 2, 4, 5, 6
SESS_INITIALIZE, SESS_STARTED, SESS_PAUSED, SESS_RESUMED, SESS_STOPPED = 1, 2, 3, 4, 5
EV_FIRST_PACKET, EV_ACTIVE_SPEAKER, EV_JOIN, EV_LEAVE, EV_MEDIA_INTERRUPTED = 1, 2, 3, 4, 7
STOP_HOST = 1
STOP_CONNECTION_TIMEOUT = 11
STOP_DATA_INTERRUPTED = 14
STOP_DATA_CLOSED_ABNORMALLY = 16
STOP_AWAIT_RECONNECTION_TIMEOUT = 19
STOP_RECEIVER_CLOSE = 20

MEDIA_BITS = {"audio": 1, "video": 2, "deskshare": 4, "transcript": 8, "chat": 16, "all": 32}
ALL_TYPES = 31
URL_TYPES = ("audio", "video", "transcript", "deskshare", "chat", "all")


def covered(bits: int) -> int:
    """The media types a media_type value stands for: 32 ("all") is every type."""
    return ALL_TYPES if bits & 32 else bits
