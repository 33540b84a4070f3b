"""The one guard list for starting RTMS, pure: every path that asks Zoom for a stream asks this first.

Ingest's start after ``meeting.started``, an operator's start (admin, API), and the reconciler's restart
(both its plan and the service that applies it) all refuse for the same reasons, in the same order, with
the same words. A reason added here holds everywhere at once; a reason written next to one caller would
leave the other paths open (an erased meeting could once be started again from the admin).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from rtms.zoom.protocol import StopReason
from rtms.zoom.stop_policy import StopPolicy, stop_policy


class Starter(enum.Enum):
    INGEST = "ingest"  # meeting.started for an account that starts RTMS through the API
    OPERATOR = "operator"  # a person, in the admin or through the REST API
    RECONCILER = "reconciler"  # a live meeting without a healthy stream


class Refusal(enum.StrEnum):
    """Why a start is refused; the value is what the services return and record."""

    NOT_LIVE = "not_live"
    QUARANTINED = "quarantined"
    ERASED = "erased"
    STOPPED_MANUALLY = "stopped_manually"
    STREAM_EXISTS = "stream_exists"
    CONSENT = "consent"


@dataclass(frozen=True)
class StartFacts:
    live: bool
    routed: bool  # False: quarantined, no region owns it
    erased: bool
    stopped_manually: bool  # an operator stopped capture and nobody started it by hand since
    active_stream: bool
    last_stop_reason: int | None  # of the newest stream; None when there is none or it never stopped
    has_streams: bool
    last_stopped_by_us: bool  # the newest stream's stop was our own stop-before-restart


@dataclass(frozen=True)
class Refused:
    refusal: Refusal
    message: str  # safe to show to an operator


def stopped_by_us(
    stop_reason: int | None,
    stopped_at: datetime | None,
    self_stop_at: datetime | None,
    *,
    own_start_at: datetime | None = None,
    window: timedelta = timedelta(0),
) -> bool:
    """Whether a USER_TRIGGERED stop was our doing rather than a person's decision: Zoom reports our own
    stop-before-restart that way, and also the stream it replaces when our start call meets a running one
    (a stop within ``window`` after ``own_start_at``, our last start call)."""
    if stop_reason != StopReason.USER_TRIGGERED or stopped_at is None:
        return False
    if self_stop_at is not None and stopped_at >= self_stop_at:
        return True
    return own_start_at is not None and own_start_at <= stopped_at <= own_start_at + window


def start_refusal(facts: StartFacts, starter: Starter) -> Refused | None:
    """None when ``starter`` may ask Zoom to start RTMS for the meeting; else the first reason not to."""
    if not facts.live:
        return Refused(Refusal.NOT_LIVE, "the meeting has ended; RTMS can only be started for a live meeting")
    if not facts.routed:
        return Refused(
            Refusal.QUARANTINED,
            "the meeting is quarantined (no region owns it): add a residency rule and re-route it first",
        )
    if facts.erased:
        # Capturing it again would bring back what the erasure removed (compliance/erasure.py).
        return Refused(Refusal.ERASED, "the meeting was erased on request: it is never captured again")
    if facts.stopped_manually and starter is not Starter.OPERATOR:
        # An operator's stop is a decision, like a host's; only an operator's start undoes it.
        return Refused(
            Refusal.STOPPED_MANUALLY, "stopped manually by an operator: only a manual start resumes it"
        )
    if facts.active_stream:
        return Refused(Refusal.STREAM_EXISTS, "the meeting already has an active stream")
    # After an operator's stop, the stream's stop reason records that stop, not a participant's decision.
    decided_by_people = (
        facts.has_streams
        and not facts.stopped_manually
        and not facts.last_stopped_by_us
        and stop_policy(facts.last_stop_reason) is StopPolicy.CONSENT
    )
    if decided_by_people:
        return Refused(
            Refusal.CONSENT,
            f"the last stream was stopped by a host's or participant's decision "
            f"(stop reason {facts.last_stop_reason}): never restarted; only they can start it again",
        )
    return None
