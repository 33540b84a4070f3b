"""Pins the whole stop-reason table (zoom-protocol.md §2.4.10 "Our policy").

A change here changes what the gateway reconnects and what the reconciler restarts; it must be a
deliberate edit of both this table and the doc.
"""

from __future__ import annotations

import pytest

from rtms.zoom.protocol import StopReason
from rtms.zoom.stop_policy import POLICY_TABLE, StopPolicy, deletes_content, is_retryable, stop_policy

R = StopPolicy.RESTART
E = StopPolicy.ENDED
C = StopPolicy.CONSENT
A = StopPolicy.ALERT
U = StopPolicy.UNKNOWN

EXPECTED: dict[int, StopPolicy] = {
    0: U,  # UNDEFINED
    1: C,  # HOST_TRIGGERED
    2: C,  # USER_TRIGGERED
    3: C,  # USER_LEFT
    4: C,  # USER_EJECTED
    5: C,  # HOST_DISABLED_APP
    6: E,  # MEETING_ENDED
    7: C,  # STREAM_CANCELED
    8: C,  # STREAM_REVOKED
    9: C,  # ALL_APPS_DISABLED
    10: R,  # INTERNAL_EXCEPTION
    11: R,  # CONNECTION_TIMEOUT
    12: R,  # INSTANCE_CONNECTION_INTERRUPTED
    13: R,  # SIGNAL_CONNECTION_INTERRUPTED
    14: R,  # DATA_CONNECTION_INTERRUPTED
    15: R,  # SIGNAL_CONNECTION_CLOSED_ABNORMALLY
    16: R,  # DATA_CONNECTION_CLOSED_ABNORMALLY
    17: R,  # EXIT_SIGNAL
    18: A,  # AUTHENTICATION_FAILURE
    19: R,  # AWAIT_RECONNECTION_TIMEOUT
    20: C,  # RECEIVER_REQUEST_CLOSE
    21: U,  # CUSTOMER_DISCONNECTED (ZCC)
    22: U,  # AGENT_DISCONNECTED (ZCC)
    23: C,  # ADMIN_DISABLED_APP
    24: R,  # KEEP_ALIVE_TIMEOUT
    25: U,  # MANUAL_API_TRIGGERED (ZCC)
    26: U,  # STREAMING_NOT_SUPPORTED (ZCC)
}


def test_table_covers_every_stop_reason_when_walked() -> None:
    assert set(EXPECTED) == {int(r) for r in StopReason}
    assert set(POLICY_TABLE) == set(StopReason)


@pytest.mark.parametrize("reason", list(StopReason), ids=lambda r: f"{int(r)}-{r.name}")
def test_stop_policy_matches_pinned_table_when_reason_is_known(reason: StopReason) -> None:
    assert stop_policy(reason) is EXPECTED[int(reason)]
    # A plain int from JSON gets the same answer as the enum member.
    assert stop_policy(int(reason)) is EXPECTED[int(reason)]
    assert is_retryable(int(reason)) is (EXPECTED[int(reason)] is StopPolicy.RESTART)


def test_retryable_set_is_zooms_restart_range_minus_authentication_failure() -> None:
    retryable = {int(r) for r in StopReason if is_retryable(r)}
    assert retryable == {10, 11, 12, 13, 14, 15, 16, 17, 19, 24}


@pytest.mark.parametrize("reason", [-1, 27, 99, 2**31, -(2**63)])
def test_stop_policy_is_unknown_and_not_retryable_when_reason_is_unknown_int(reason: int) -> None:
    assert stop_policy(reason) is StopPolicy.UNKNOWN
    assert is_retryable(reason) is False
    assert deletes_content(reason) is False


def test_stop_policy_is_unknown_when_reason_is_none() -> None:
    assert stop_policy(None) is StopPolicy.UNKNOWN
    assert is_retryable(None) is False
    assert deletes_content(None) is False


def test_stop_policy_is_unknown_when_reason_is_a_bool_or_not_an_int() -> None:
    # True == 1 in Python; it must not read as HOST_TRIGGERED.
    assert stop_policy(True) is StopPolicy.UNKNOWN
    assert stop_policy("13") is StopPolicy.UNKNOWN  # type: ignore[arg-type]
    assert stop_policy(13.0) is StopPolicy.UNKNOWN  # type: ignore[arg-type]


@pytest.mark.parametrize("reason", list(StopReason), ids=lambda r: f"{int(r)}-{r.name}")
def test_deletes_content_only_when_stream_is_revoked(reason: StopReason) -> None:
    assert deletes_content(int(reason)) is (reason is StopReason.STREAM_REVOKED)
