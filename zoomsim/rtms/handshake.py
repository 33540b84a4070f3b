"""What the signaling and media handshakes share: checking the request against the stream it names,
and refusing it (a response with the status, then a close)."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from zoomsim.config import AppCreds
from zoomsim.log import log_event
from zoomsim.rtms.protocol import ST_BAD_MSG_TYPE, ST_BAD_PAYLOAD, ST_BAD_SIGNATURE, ST_BAD_STREAM, ST_OK
from zoomsim.rtms.state import Registry, RtConn, RtStream
from zoomsim.signing import rtms_handshake_signature

log = logging.getLogger("zoomsim.rtms")


def check(
    app: AppCreds, registry: Registry, conn: RtConn, msg: dict[str, Any], msg_type: int
) -> tuple[int, str, RtStream | None]:
    """(status, reason, stream) for a signaling or data handshake."""
    if msg.get("msg_type") != msg_type:
        return ST_BAD_MSG_TYPE, "invalid message type", None
    muid, sid, sig = msg.get("meeting_uuid"), msg.get("rtms_stream_id"), msg.get("signature")
    if not isinstance(muid, str) or not isinstance(sid, str) or not isinstance(sig, str):
        return ST_BAD_PAYLOAD, "meeting_uuid, rtms_stream_id and signature are required", None
    expected = rtms_handshake_signature(app.client_id, app.client_secret, muid, sid)
    if not hmac.compare_digest(expected, sig):
        return ST_BAD_SIGNATURE, "invalid signature", registry.streams.get(sid)
    rt = registry.streams.get(sid)
    if rt is None or not rt.serving or rt.meeting.uuid != muid or rt.stream.generation != conn.generation:
        return ST_BAD_STREAM, "invalid rtms_stream_id", rt
    return ST_OK, "", rt


async def refuse(
    registry: Registry, conn: RtConn, resp: dict[str, Any], status: int, reason: str, rt: RtStream | None
) -> bool:
    """Send the refusal and close; False, what a handshake that failed returns."""
    resp.update({"status_code": status, "reason": reason})
    conn.close_reason = "refused"
    await conn.send(resp, force=True)
    registry.record("refused", conn, rt, status_code=status, reason=reason)
    log_event(log, "zoomsim.rtms.refused", socket=conn.kind, status_code=status, reason=reason)
    await conn.ws.close(code=1000, message=reason.encode()[:100])
    return False
