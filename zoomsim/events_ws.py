"""The event-subscription WebSocket (zoom-protocol.md §5): /ws?subscriptionId=…&access_token=…"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from zoomsim.clock import monotonic
from zoomsim.log import log_event
from zoomsim.oauth import Token

if TYPE_CHECKING:
    from zoomsim.sim import Simulator

log = logging.getLogger("zoomsim.events_ws")

# Close codes are UNCONFIRMED for Zoom; zoomsim's choices (docs/zoomsim.md).
CLOSE_KICKED = 1000  # replaced by a newer connection: a plain normal close, indistinguishable from others
CLOSE_POLICY = 1008  # bad token / unknown subscription / token expired
CLOSE_HEARTBEAT = 1001  # no heartbeat in time
CLOSE_DOWN = 1001  # ws_down fault / shutdown


@dataclass
class WsConn:
    id: int
    ws: web.WebSocketResponse
    subscription_id: str
    account_id: str
    token: Token
    last_heartbeat: float = field(default_factory=monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    close_reason: str | None = None


class EventWsHub:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.conns: dict[str, WsConn] = {}  # by subscription id: one connection per subscription
        self._ids = itertools.count(1)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        sub = request.query.get("subscriptionId", "")
        token_value = request.query.get("access_token", "")
        if self.sim.faults.ws_down:
            self.sim.ledger.record("ws.refused", subscription_id=sub, reason="ws_down")
            return web.Response(status=503, text="Service Unavailable")
        ws = web.WebSocketResponse(autoping=True, heartbeat=None, timeout=2.0)
        await ws.prepare(request)
        account = self.sim.account_for_subscription(sub)
        token = self.sim.tokens.lookup(token_value)
        reason: str | None = None
        if account is None:
            reason, content = "unknown_subscription", "Invalid subscriptionId"
        elif token is None or token.expired:
            reason, content = ("expired_token" if token else "invalid_token"), "Invalid Token"
        elif token.account_id != account.id or token.client_id != account.config.s2s.client_id:
            reason, content = "wrong_app_token", "Invalid Token"
        if reason is not None or account is None or token is None:
            await ws.send_str(
                json.dumps({"module": "build_connection", "success": False, "content": content})
            )
            await ws.close(code=CLOSE_POLICY, message=b"Invalid Token")
            self.sim.ledger.record("ws.refused", subscription_id=sub, reason=reason)
            log_event(log, "zoomsim.ws.refused", subscription_id=sub, reason=reason)
            return ws

        conn = WsConn(next(self._ids), ws, sub, account.id, token)
        old = self.conns.get(sub)
        self.conns[sub] = conn
        if old is not None:
            old.close_reason = "kicked"
            self.sim.ledger.record("ws.kicked", subscription_id=sub, connection=old.id, by_connection=conn.id)
            log_event(log, "zoomsim.ws.kicked", subscription_id=sub, connection=old.id)
            await old.ws.close(code=CLOSE_KICKED)
        self.sim.ledger.record("ws.connected", subscription_id=sub, connection=conn.id, account=account.id)
        log_event(log, "zoomsim.ws.connected", subscription_id=sub, connection=conn.id)
        await ws.send_str(
            json.dumps(
                {
                    "module": "build_connection",
                    "success": True,
                    "content": f"connection {conn.id} established",
                }
            )
        )
        watchdog = asyncio.get_running_loop().create_task(self._watchdog(conn))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_text(conn, msg.data)
                elif msg.type == WSMsgType.ERROR:
                    conn.close_reason = conn.close_reason or "error"
                    break
        finally:
            watchdog.cancel()
            if self.conns.get(sub) is conn:
                del self.conns[sub]
            self.sim.ledger.record(
                "ws.closed",
                subscription_id=sub,
                connection=conn.id,
                reason=conn.close_reason or "client_closed",
            )
        return ws

    async def _on_text(self, conn: WsConn, data: str) -> None:
        try:
            frame = json.loads(data)
        except ValueError:
            frame = None
        if isinstance(frame, dict) and frame.get("module") == "heartbeat":
            conn.last_heartbeat = monotonic()
            async with conn.lock:
                await conn.ws.send_str(json.dumps({"module": "heartbeat", "success": True}))
        else:
            self.sim.ledger.record(
                "ws.client_message", subscription_id=conn.subscription_id, connection=conn.id
            )

    async def _watchdog(self, conn: WsConn) -> None:
        """Close on a missing heartbeat (scaled 90 s) or when the connection's token expires."""
        hb_timeout = self.sim.config.scaled(self.sim.config.ws_heartbeat_timeout_s)
        while not conn.ws.closed:
            now = monotonic()
            if conn.token.expired:
                await self._close(conn, "token_expired", CLOSE_POLICY)
                return
            if now - conn.last_heartbeat >= hb_timeout:
                await self._close(conn, "heartbeat_timeout", CLOSE_HEARTBEAT)
                return
            deadline = min(conn.last_heartbeat + hb_timeout, conn.token.expires_at)
            await asyncio.sleep(max(0.005, min(deadline - now, 1.0)))

    async def _close(self, conn: WsConn, reason: str, code: int) -> None:
        conn.close_reason = reason
        log_event(
            log, "zoomsim.ws.closing", subscription_id=conn.subscription_id, connection=conn.id, reason=reason
        )
        await conn.ws.close(code=code)

    async def deliver(self, text: str, meta: dict[str, Any], copy: int) -> None:
        frame = json.dumps({"module": "message", "content": text})
        account = self.sim.accounts.get(meta["account"])
        sub = account.config.subscription_id if account else None
        conn = self.conns.get(sub) if sub else None
        if conn is None or conn.ws.closed or conn.close_reason:
            self.sim.ledger.record("ws.lost", subscription_id=sub, copy=copy, **meta)
            return
        try:
            async with conn.lock:
                await conn.ws.send_str(frame)
        except (ConnectionError, RuntimeError) as exc:
            self.sim.ledger.record(
                "ws.lost", subscription_id=sub, copy=copy, error=type(exc).__name__, **meta
            )
            return
        self.sim.ledger.record("ws.delivered", subscription_id=sub, connection=conn.id, copy=copy, **meta)

    async def close_for_tokens(self, tokens: list[Token]) -> None:
        values = {t.value for t in tokens}
        for conn in list(self.conns.values()):
            if conn.token.value in values:
                await self._close(conn, "token_expired", CLOSE_POLICY)

    async def close_all(self, reason: str) -> None:
        for conn in list(self.conns.values()):
            if reason == "ws_down":
                self.sim.ledger.record(
                    "ws.kicked", subscription_id=conn.subscription_id, connection=conn.id, reason=reason
                )
            await self._close(conn, reason, CLOSE_DOWN)
