"""The media sockets: their handshake (one socket per media type, or one for "all"), the media
parameters zoomsim answers with, and the client's keep-alive answers. What flows on them is
playback.py's."""

from __future__ import annotations

from typing import Any

from zoomsim.rtms import keepalive
from zoomsim.rtms.handshake import check, refuse
from zoomsim.rtms.protocol import (
    DATA_HS_REQ,
    DATA_HS_RESP,
    KEEP_ALIVE_RESP,
    MEDIA_BITS,
    SS_ACTIVE,
    SS_PAUSED,
    ST_ALL_EXISTS,
    ST_BAD_MEDIA_TYPE,
    ST_BAD_STREAM,
    ST_DUP_MEDIA,
    ST_OK,
    covered,
)
from zoomsim.rtms.state import Registry, RtConn
from zoomsim.rtms.updates import Updates
from zoomsim.sim import Simulator


class Media:
    def __init__(self, sim: Simulator, registry: Registry, updates: Updates) -> None:
        self.sim = sim
        self.cfg = sim.config
        self.registry = registry
        self.updates = updates

    async def handshake(self, conn: RtConn, msg: dict[str, Any]) -> bool:
        resp: dict[str, Any] = {"msg_type": DATA_HS_RESP, "protocol_version": 1, "sequence": 0}
        status, reason, rt = check(self.cfg.rtms_app, self.registry, conn, msg, DATA_HS_REQ)
        bits = msg.get("media_type")
        if isinstance(bits, int) and not isinstance(bits, bool):
            conn.requested_bits = bits
        if status == ST_OK and rt is not None:
            if rt.signaling is None:
                status, reason = ST_BAD_STREAM, "no signaling connection for this stream"
            elif (
                not isinstance(bits, int)
                or isinstance(bits, bool)
                or bits <= 0
                or bits > 32
                or (bits & 32 and bits != 32)
            ):
                status, reason = ST_BAD_MEDIA_TYPE, "invalid media type"
            elif conn.url_type != "all" and bits != MEDIA_BITS[conn.url_type]:
                status, reason = (
                    ST_BAD_MEDIA_TYPE,
                    f"media_type {bits} does not match the {conn.url_type} URL",
                )
            else:
                existing = [c for c in rt.media if not c.closed]
                taken = 0
                for c in existing:
                    taken |= c.media_bits
                if taken & covered(bits):
                    if bits & 32 or any(c.requested_bits & 32 for c in existing):
                        status, reason = ST_ALL_EXISTS, "media data all connection exists"
                    else:
                        status, reason = ST_DUP_MEDIA, "duplicate media data connection"
        if status != ST_OK or rt is None or not isinstance(bits, int):
            return await refuse(self.registry, conn, resp, status, reason, rt)
        conn.rt = rt
        conn.media_bits = covered(bits)
        rt.media.append(conn)
        params = msg.get("media_params") if isinstance(msg.get("media_params"), dict) else {}
        resp.update(
            {
                "status_code": ST_OK,
                "reason": "",
                "payload_encrypted": False,
                "media_params": media_params(conn, params or {}),
            }
        )
        await conn.send(resp, force=True)
        self.registry.record("opened", conn)
        # A media type that was interrupted is back.
        for wbits, task in list(rt.media_windows.items()):
            if wbits & conn.media_bits:
                task.cancel()
                del rt.media_windows[wbits]
                self.sim.ledger.record(
                    "rtms.restored",
                    meeting_uuid=rt.meeting.uuid,
                    rtms_stream_id=rt.stream.rtms_stream_id,
                    window="media",
                    media_type=wbits,
                )
        rt.interrupted_media &= ~conn.media_bits
        if rt.interrupted_media == 0 and rt.ready and rt.window is None:
            await self.updates.stream_state(rt, SS_PAUSED if rt.stream.state == "paused" else SS_ACTIVE, 0)
        return True

    async def on_message(self, conn: RtConn, body: dict[str, Any]) -> None:
        if body.get("msg_type") == KEEP_ALIVE_RESP:
            keepalive.answer(conn, body)


def media_params(conn: RtConn, req: dict[str, Any]) -> dict[str, Any]:
    """The media_params of the handshake response, for the media types `conn` covers. Sets the
    socket's audio send rate (what the client asked, in 20 ms steps)."""
    out: dict[str, Any] = {}
    b = conn.media_bits
    if b & 1:
        a = req.get("audio") if isinstance(req.get("audio"), dict) else {}
        rate = a.get("send_rate", 20) if isinstance(a, dict) else 20
        rate = rate if isinstance(rate, int) and not isinstance(rate, bool) and rate > 0 else 20
        rate = min(1000, max(20, (rate // 20) * 20))
        conn.send_rate_ms = rate
        # zoomsim always sends the protocol default: L16, 16 kHz, mono, mixed (docs/zoomsim.md).
        out["audio"] = {
            "content_type": 2,
            "sample_rate": 1,
            "channel": 1,
            "codec": 1,
            "data_opt": 1,
            "send_rate": rate,
        }
    if b & 2:
        out["video"] = {"content_type": 3, "codec": 5, "resolution": 2, "data_opt": 3, "fps": 5}
    if b & 4:
        out["deskshare"] = {"content_type": 3, "codec": 5, "resolution": 3, "fps": 1}
    if b & 8:
        t = req.get("transcript") if isinstance(req.get("transcript"), dict) else {}
        t = t or {}
        out["transcript"] = {
            "content_type": 5,
            "src_language": t.get("src_language", 9),
            "enable_lid": t.get("enable_lid", True),
        }
    if b & 16:
        out["chat"] = {"content_type": 5}
    return out
