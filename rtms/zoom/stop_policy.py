"""The one table of RTMS stop reasons, shared by the gateway and the reconciler.

zoom-protocol.md §2.4.10 "Our policy". Keep every decision about a stop reason here so the process
that reconnects sockets and the one that restarts streams through REST can never disagree.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from rtms.zoom.protocol import StopReason

__all__ = ["POLICY_TABLE", "StopPolicy", "deletes_content", "is_retryable", "stop_policy"]


class StopPolicy(enum.Enum):
    # Connection trouble on Zoom's or our side: a full restart is expected to work (§2.6).
    RESTART = "restart"
    # The meeting is over; the stream ends with it.
    ENDED = "ended"
    # A host, participant, admin or this app decided to stop. Restarting would capture people who
    # asked not to be captured, so nothing ever overrides it.
    CONSENT = "consent"
    # 18 sits inside Zoom's "restart on 10-19" range, but a restart fails the same way and loops;
    # a person must look at the credentials or the account instead.
    ALERT = "alert"
    # Reasons we cannot classify. Treated as not retryable: we never capture against a decision we
    # cannot see, and an unknown reason may well be one.
    UNKNOWN = "unknown"


_R = StopReason

# zoom-protocol.md §2.4.10 "Our policy" (DOC-FAIL's 10-19 and 24, minus 18).
POLICY_TABLE: Mapping[StopReason, StopPolicy] = MappingProxyType(
    {
        _R.UNDEFINED: StopPolicy.UNKNOWN,
        _R.HOST_TRIGGERED: StopPolicy.CONSENT,
        _R.USER_TRIGGERED: StopPolicy.CONSENT,
        _R.USER_LEFT: StopPolicy.CONSENT,
        _R.USER_EJECTED: StopPolicy.CONSENT,
        _R.HOST_DISABLED_APP: StopPolicy.CONSENT,
        _R.MEETING_ENDED: StopPolicy.ENDED,
        _R.STREAM_CANCELED: StopPolicy.CONSENT,
        _R.STREAM_REVOKED: StopPolicy.CONSENT,
        _R.ALL_APPS_DISABLED: StopPolicy.CONSENT,
        _R.INTERNAL_EXCEPTION: StopPolicy.RESTART,
        _R.CONNECTION_TIMEOUT: StopPolicy.RESTART,
        _R.INSTANCE_CONNECTION_INTERRUPTED: StopPolicy.RESTART,
        _R.SIGNAL_CONNECTION_INTERRUPTED: StopPolicy.RESTART,
        _R.DATA_CONNECTION_INTERRUPTED: StopPolicy.RESTART,
        _R.SIGNAL_CONNECTION_CLOSED_ABNORMALLY: StopPolicy.RESTART,
        _R.DATA_CONNECTION_CLOSED_ABNORMALLY: StopPolicy.RESTART,
        _R.EXIT_SIGNAL: StopPolicy.RESTART,
        _R.AUTHENTICATION_FAILURE: StopPolicy.ALERT,
        _R.AWAIT_RECONNECTION_TIMEOUT: StopPolicy.RESTART,
        # The app itself sent STREAM_CLOSE_REQ: our own decision, honoured like anyone else's.
        _R.RECEIVER_REQUEST_CLOSE: StopPolicy.CONSENT,
        # 21, 22, 25, 26 are Contact Center reasons; this control plane does not run ZCC streams.
        _R.CUSTOMER_DISCONNECTED: StopPolicy.UNKNOWN,
        _R.AGENT_DISCONNECTED: StopPolicy.UNKNOWN,
        _R.ADMIN_DISABLED_APP: StopPolicy.CONSENT,
        _R.KEEP_ALIVE_TIMEOUT: StopPolicy.RESTART,
        _R.MANUAL_API_TRIGGERED: StopPolicy.UNKNOWN,
        _R.STREAMING_NOT_SUPPORTED: StopPolicy.UNKNOWN,
    }
)


def stop_policy(reason: int | None) -> StopPolicy:
    # bool is an int subclass; True must not read as HOST_TRIGGERED.
    if reason is None or isinstance(reason, bool) or not isinstance(reason, int):
        return StopPolicy.UNKNOWN
    try:
        known = StopReason(reason)
    except ValueError:
        return StopPolicy.UNKNOWN
    return POLICY_TABLE[known]


def is_retryable(reason: int | None) -> bool:
    return stop_policy(reason) is StopPolicy.RESTART


# zoom-protocol.md §2.4.10: STREAM_REVOKED means "assets must be deleted immediately".
def deletes_content(reason: int | None) -> bool:
    if reason is None or isinstance(reason, bool) or not isinstance(reason, int):
        return False
    return reason == StopReason.STREAM_REVOKED
