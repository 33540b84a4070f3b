"""What the server tells a client unasked over its stream's signaling socket (§2.4):
STREAM_STATE_UPDATE and SESSION_STATE_UPDATE (each recorded in the ledger, sent or not) and
EVENT_UPDATE."""

from __future__ import annotations

from typing import Any

from zoomsim.clock import now_ms
from zoomsim.ledger import Ledger
from zoomsim.rtms.protocol import EV_JOIN, EVENT_UPDATE, SESSION_STATE_UPDATE, STREAM_STATE_UPDATE
from zoomsim.rtms.state import RtStream
from zoomsim.speech import speaker_user_id
from zoomsim.state import Meeting


class Updates:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def stream_state(self, rt: RtStream, state: int, reason: int) -> None:
        if rt.signaling is None:
            return
        ok = await rt.signaling.send(
            {"msg_type": STREAM_STATE_UPDATE, "state": state, "reason": reason, "timestamp": now_ms()}
        )
        self.ledger.record(
            "rtms.state",
            meeting_uuid=rt.meeting.uuid,
            rtms_stream_id=rt.stream.rtms_stream_id,
            message="stream",
            state=state,
            reason=reason,
            sent=ok,
        )

    async def session_state(self, rt: RtStream, state: int, reason: int | None = None) -> None:
        if rt.signaling is None:
            return
        body: dict[str, Any] = {
            "msg_type": SESSION_STATE_UPDATE,
            "rtms_session_id": rt.session_id,
            "state": state,
            "timestamp": now_ms(),
        }
        if reason is not None:
            body["reason"] = reason
            body["stop_reason"] = reason
        ok = await rt.signaling.send(body)
        self.ledger.record(
            "rtms.state",
            meeting_uuid=rt.meeting.uuid,
            rtms_stream_id=rt.stream.rtms_stream_id,
            message="session",
            state=state,
            reason=reason,
            sent=ok,
        )

    async def event(self, rt: RtStream, event: dict[str, Any]) -> bool:
        if rt.signaling is None:
            return False
        return await rt.signaling.send({"msg_type": EVENT_UPDATE, "event": {**event, "timestamp": now_ms()}})

    async def join(self, rt: RtStream) -> None:
        """Everyone in the meeting joined: the host and every speaker of its transcript."""
        await self.event(rt, {"event_type": EV_JOIN, "participants": participants(rt.meeting)})


def participants(m: Meeting) -> list[dict[str, Any]]:
    names = [m.host.name]
    names += [str(line.get("speaker")) for line in m.transcript if line.get("speaker")]
    if m.transcript_generate:
        names += [f"Speaker {k + 1}" for k in range(int(m.transcript_generate["speakers"]))]
    seen: list[str] = []
    for n in names:
        if n not in seen:
            seen.append(n)
    return [{"user_id": speaker_user_id(n), "user_name": n} for n in seen]
