"""Writes to meetings and streams: conditional UPDATEs plus an append-only transition row.

Optimistic concurrency: read the current state, then ``UPDATE ... WHERE state = <what we read>``. Zero
rows means another process moved first; we re-read and decide again (bounded), so the recorded
``from_state`` is always the state we really left.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from controlplane.clock import SYSTEM_CLOCK, Clock
from rtms.lifecycle import MeetingState, MoveVerdict, StreamState, meeting_move, stream_move
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


def _transition(
    kind: str,
    model: type[Meeting] | type[RtmsStream],
    object_id: int,
    to: str,
    *,
    move_of: Callable[[str], MoveVerdict],
    updates: dict[str, Any],
    record: Callable[[str], object],
    cause: str,
    guard: dict[str, Any] | None = None,
) -> TransitionResult:
    """The optimistic loop shared by every state machine: read, check the table, conditional UPDATE
    (``WHERE state = <what we read>``) and the history row in one transaction; re-read on a lost race.
    ``guard`` adds conditions the row must meet for the move to happen at all (a fencing token): a row
    that no longer meets them is left alone and the move reported as not applied."""
    for _ in range(_MAX_RACE_RETRIES):
        current = str(model.objects.values_list("state", flat=True).get(pk=object_id))
        move = move_of(current)
        if move is MoveVerdict.NOOP:
            return TransitionResult(applied=False, from_state=current, to_state=to)
        if move is MoveVerdict.ILLEGAL:
            raise IllegalTransition(kind, object_id, current, to)
        with transaction.atomic():
            if model.objects.filter(pk=object_id, state=current, **(guard or {})).update(state=to, **updates):
                record(current)
                logger.info(
                    f"{kind}.transition",
                    extra={f"{kind}_id": object_id, "from_state": current, "to_state": to, "cause": cause},
                )
                return TransitionResult(applied=True, from_state=current, to_state=to)
        if guard and not model.objects.filter(pk=object_id, **guard).exists():
            logger.warning(f"{kind}.transition_fenced", extra={f"{kind}_id": object_id, "cause": cause})
            return TransitionResult(applied=False, from_state=current, to_state=to)
    raise RuntimeError(
        f"{kind} {object_id}: state kept changing under us; gave up after {_MAX_RACE_RETRIES} tries"
    )


def stream_transition(
    stream_id: int,
    to: StreamState,
    *,
    cause: str,
    stop_reason: int | None = None,
    detail: dict[str, Any] | None = None,
    fields: dict[str, Any] | None = None,
    clock: Clock = SYSTEM_CLOCK,
    lease_token: int | None = None,
) -> TransitionResult:
    """Move a stream to ``to``. A repeat of a move that already happened is a no-op (applied=False);
    a move the lifecycle table forbids raises IllegalTransition. ``fields`` are set in the same UPDATE.
    With ``lease_token`` (a gateway's move) the stream moves only while that lease token is its newest:
    a gateway that lost the stream can never move it under the gateway that took it over."""
    now = clock.now()
    updates: dict[str, Any] = {"state_changed_at": now, **(fields or {})}
    if stop_reason is not None:
        updates["stop_reason"] = stop_reason

    def record(current: str) -> object:
        return StreamTransition.objects.create(
            stream_id=stream_id,
            from_state=current,
            to_state=to,
            cause=cause,
            stop_reason=stop_reason,
            detail=detail or {},
            at=now,
        )

    return _transition(
        "stream",
        RtmsStream,
        stream_id,
        to,
        move_of=lambda current: stream_move(StreamState(current), to),
        updates=updates,
        record=record,
        cause=cause,
        guard=None if lease_token is None else {"lease_token": lease_token},
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
    updates: dict[str, Any] = dict(fields or {})
    if to == MeetingState.ENDED:
        updates.setdefault("ended_at", now)

    def record(current: str) -> object:
        return MeetingTransition.objects.create(
            meeting_id=meeting_id, from_state=current, to_state=to, cause=cause, detail=detail or {}, at=now
        )

    return _transition(
        "meeting",
        Meeting,
        meeting_id,
        to,
        move_of=lambda current: meeting_move(MeetingState(current), to),
        updates=updates,
        record=record,
        cause=cause,
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
    row = audit_row(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        region_code=region_code,
        source_ip=source_ip,
        detail=detail,
        clock=clock,
    )
    row.save()
    return row


def audit_row(
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
    """An audit row not saved yet: a caller recording many at once inserts them together."""
    return AuditLog(
        at=clock.now(),
        actor=actor[:150],
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        region_code=region_code,
        source_ip=source_ip,
        detail=detail or {},
    )


class ContentAccess(enum.StrEnum):
    """Ways of reading a meeting's content; each is recorded under its own audit action."""

    TRANSCRIPT_READ = "transcript.read"  # segments as data (API pages, the transcript command)
    TRANSCRIPT_VIEW = "transcript.view"  # segments shown to a person (admin, live page and socket)
    TRANSCRIPT_EXPORT = "transcript.export"  # a whole transcript as a file
    AUDIO_DOWNLOAD = "audio.download"


def content_access_record(
    access: ContentAccess,
    *,
    actor: str,
    via: str,
    meeting_ids: Sequence[int],
    region_code: str,
    source_ip: str | None = None,
    detail: Mapping[str, Any] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> AuditLog:
    """Reading meeting content discloses personal data: every surface (``via``: admin, api, live,
    command) records it here, in one shape. One meeting is the audited object; a read spanning several
    (an admin list) is recorded against the transcript table with the meetings in ``detail``."""
    single = len(meeting_ids) == 1
    return audit_record(
        actor=actor,
        action=access.value,
        object_type="meeting" if single else "transcript",
        object_id=meeting_ids[0] if single else "",
        region_code=region_code,
        source_ip=source_ip,
        detail={"via": via, **(detail or {})},
        clock=clock,
    )
