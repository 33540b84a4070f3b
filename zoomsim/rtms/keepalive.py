"""Keep-alives on every socket: the server asks whenever it has sent nothing for an interval, and
closes a socket that leaves `rtms_keepalive_misses` requests unanswered."""

from __future__ import annotations

import asyncio
from typing import Any

from zoomsim.clock import now_ms
from zoomsim.rtms.protocol import KEEP_ALIVE_REQ
from zoomsim.rtms.state import RtConn
from zoomsim.sim import Simulator


class KeepAlive:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.cfg = sim.config

    async def run(self, conn: RtConn) -> None:
        loop = asyncio.get_running_loop()
        interval = max(0.005, self.cfg.scaled(self.cfg.rtms_keepalive_interval_s))
        while not conn.closed:
            wait = conn.last_sent + interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            rt = conn.rt
            if rt is not None and rt.silent():
                conn.ka_outstanding.clear()
                conn.last_sent = loop.time()
                continue
            if len(conn.ka_outstanding) >= self.cfg.rtms_keepalive_misses:
                conn.close_reason = "keepalive_timeout"
                self.sim.ledger.record(
                    "rtms.keepalive_timeout",
                    socket=conn.kind,
                    media=None if conn.kind == "signaling" else conn.url_type,
                    connection=conn.id,
                    meeting_uuid=rt.meeting.uuid if rt else None,
                    rtms_stream_id=rt.stream.rtms_stream_id if rt else None,
                    unanswered=sorted(conn.ka_outstanding),
                )
                await conn.ws.close(code=1001, message=b"keep-alive timeout")
                return
            conn.ka_seq += 1
            ts = now_ms()
            conn.ka_outstanding[conn.ka_seq] = ts
            if not await conn.send({"msg_type": KEEP_ALIVE_REQ, "sequence": conn.ka_seq, "timestamp": ts}):
                conn.last_sent = loop.time()


def answer(conn: RtConn, body: dict[str, Any]) -> None:
    """A KEEP_ALIVE_RESP settles its request and every earlier one. Clients that echo only the
    timestamp are matched by it."""
    seq, ts = body.get("sequence"), body.get("timestamp")
    if isinstance(seq, int) and seq in conn.ka_outstanding:
        answered = seq
    else:
        matches = [s for s, t in conn.ka_outstanding.items() if t == ts]
        if not matches:
            return
        answered = max(matches)
    for s in [s for s in conn.ka_outstanding if s <= answered]:
        del conn.ka_outstanding[s]
