"""Writes to meetings and streams: conditional UPDATEs plus an append-only transition row.

Optimistic concurrency: read the current state, then ``UPDATE ... WHERE state = <what we read>``. Zero
rows means another process moved first; we re-read and decide again (bounded), so the recorded
``from_state`` is always the state we really left.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from controlplane.clock import SYSTEM_CLOCK, Clock
from rtms.lifecycle import MeetingState, Move, StreamState, meeting_move, stream_move
from rtms.models import AuditLog, Meeting, MeetingTransition, RtmsStream, StreamTransition

logger = logging.getLogger(__name__)

_MAX_RACE_RETRIES = 5


class IllegalTransition(Exception):
    def __init__(self, kind: str, object_id: int, current: str, target: str) -> None:
        self.kind = kind
        self.object_id = object_id
        self.current = str(current)
        self.target = str(target)
        super().__init__(f"{kind} {object_id}: cannot move from {self.current!r} to {self.target!r}")


@dataclass(frozen=True)
class TransitionResult:
    applied: bool
    from_state: str
    to_state: str


def stream_transition(
    stream_id: int,
    to: StreamState,
    *,
    cause: str,
    stop_reason: int | None = None,
    detail: dict[str, Any] | None = None,
    fields: dict[str, Any] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> TransitionResult:
    """Move a stream to ``to``. A repeat of a move that already happened is a no-op (applied=False);
    a move the lifecycle table forbids raises IllegalTransition. ``fields`` are set in the same UPDATE."""
    now = clock.now()
    for _ in range(_MAX_RACE_RETRIES):
        current = StreamState(RtmsStream.objects.values_list("state", flat=True).get(pk=stream_id))
        move = stream_move(current, to)
        if move is Move.NOOP:
            return TransitionResult(applied=False, from_state=current, to_state=to)
        if move is Move.ILLEGAL:
            raise IllegalTransition("stream", stream_id, current, to)
        updates: dict[str, Any] = {"state": to, "state_changed_at": now, **(fields or {})}
        if stop_reason is not None:
            updates["stop_reason"] = stop_reason
        with transaction.atomic():
            if RtmsStream.objects.filter(pk=stream_id, state=current).update(**updates):
                StreamTransition.objects.create(
                    stream_id=stream_id,
                    from_state=current,
                    to_state=to,
                    cause=cause,
                    stop_reason=stop_reason,
                    detail=detail or {},
                    at=now,
                )
                logger.info(
                    "stream.transition",
                    extra={"stream_id": stream_id, "from_state": current, "to_state": to, "cause": cause},
                )
                return TransitionResult(applied=True, from_state=current, to_state=to)
    raise RuntimeError(
        f"stream {stream_id}: state kept changing under us; gave up after {_MAX_RACE_RETRIES} tries"
    )


def meeting_transition(
    meeting_id: int,
    to: MeetingState,
    *,
    cause: str,
    detail: dict[str, Any] | None = None,
    fields: dict[str, Any] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> TransitionResult:
    now = clock.now()
    for _ in range(_MAX_RACE_RETRIES):
        current = MeetingState(Meeting.objects.values_list("state", flat=True).get(pk=meeting_id))
        move = meeting_move(current, to)
        if move is Move.NOOP:
            return TransitionResult(applied=False, from_state=current, to_state=to)
        if move is Move.ILLEGAL:
            raise IllegalTransition("meeting", meeting_id, current, to)
        updates: dict[str, Any] = {"state": to, **(fields or {})}
        if to == MeetingState.ENDED and "ended_at" not in updates:
            updates["ended_at"] = now
        with transaction.atomic():
            if Meeting.objects.filter(pk=meeting_id, state=current).update(**updates):
                MeetingTransition.objects.create(
                    meeting_id=meeting_id,
                    from_state=current,
                    to_state=to,
                    cause=cause,
                    detail=detail or {},
                    at=now,
                )
                logger.info(
                    "meeting.transition",
                    extra={"meeting_id": meeting_id, "from_state": current, "to_state": to, "cause": cause},
                )
                return TransitionResult(applied=True, from_state=current, to_state=to)
    raise RuntimeError(
        f"meeting {meeting_id}: state kept changing under us; gave up after {_MAX_RACE_RETRIES} tries"
    )


def audit_record(
    *,
    actor: str,
    action: str,
    object_type: str = "",
    object_id: str | int = "",
    region_code: str = "",
    source_ip: str | None = None,
    detail: dict[str, Any] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> AuditLog:
    return AuditLog.objects.create(
        at=clock.now(),
        actor=actor[:150],
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        region_code=region_code,
        source_ip=source_ip,
        detail=detail or {},
    )
