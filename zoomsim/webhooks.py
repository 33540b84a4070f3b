"""Webhook delivery: URL validation, signed POSTs, Zoom's retry schedule (zoom-protocol.md §4)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

import aiohttp

from zoomsim import ids
from zoomsim.clock import now_ms
from zoomsim.log import log_event
from zoomsim.signing import url_validation_token, webhook_signature

if TYPE_CHECKING:
    from zoomsim.sim import Simulator

log = logging.getLogger("zoomsim.webhooks")


class WebhookDeliverer:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.url: str | None = sim.config.webhook_url
        self.session: aiohttp.ClientSession | None = None
        self.validated = asyncio.Event()  # set once the current URL's validation attempt has finished
        self.validation_ok: bool | None = None
        self._delivery_ids = 0

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.sim.config.webhook_timeout_real_s),
            auto_decompress=True,
        )
        self.restart_loops()

    def restart_loops(self) -> None:
        """(Re)start URL validation and the 72 h revalidation loop (after startup or a reset)."""
        if self.url:
            self.validated.clear()
            self.sim.spawn(self.validate(), "webhook-validate")
            self.sim.spawn(self._revalidate_loop(), "webhook-revalidate")
        else:
            self.validated.set()

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def set_url(self, url: str | None) -> None:
        self.url = url
        self.validation_ok = None
        if url:
            self.validated.clear()
            await self.validate()
        else:
            self.validated.set()

    def _headers(self, body: bytes) -> dict[str, str]:
        ts = str(int(time.time()))
        return {
            "content-type": "application/json; charset=utf-8",
            "user-agent": "Zoom Marketplace/1.0a",
            "accept-encoding": "gzip",
            "x-zm-request-timestamp": ts,
            "x-zm-signature": webhook_signature(self.sim.config.webhook_secret_token, ts, body),
            "x-zm-request-id": ids.request_id(),
            "x-zm-trackingid": ids.tracking_id(),
        }

    async def _post(self, body: bytes) -> tuple[int | None, str, bytes, dict[str, str]]:
        """One attempt. Returns (status, outcome, response body, request headers)."""
        assert self.session is not None and self.url is not None
        headers = self._headers(body)
        try:
            async with self.session.post(self.url, data=body, headers=headers, allow_redirects=False) as resp:
                data = await resp.read()
                status = resp.status
        except TimeoutError:
            return None, "timeout", b"", headers
        except aiohttp.ClientError as exc:
            return None, "connection_error:" + type(exc).__name__, b"", headers
        if 200 <= status < 300:
            return status, "delivered", data, headers
        if status >= 500:
            return status, "failed", data, headers
        return status, "rejected", data, headers

    async def validate(self) -> bool:
        """endpoint.url_validation (signed like any event); the answer's encryptedToken is checked."""
        try:
            if not self.url or self.session is None:
                return False
            plain = base64.b64encode(secrets.token_bytes(16)).decode().rstrip("=")
            body_obj = {
                "payload": {"plainToken": plain},
                "event_ts": now_ms(),
                "event": "endpoint.url_validation",
            }
            body = json.dumps(body_obj, separators=(",", ":")).encode()
            status, outcome, data, headers = await self._post(body)
            expected = url_validation_token(self.sim.config.webhook_secret_token, plain)
            ok = False
            reason = outcome
            if outcome == "delivered":
                try:
                    answer = json.loads(data or b"{}")
                    ok = answer.get("plainToken") == plain and answer.get("encryptedToken") == expected
                    reason = "ok" if ok else "bad_token"
                except (ValueError, AttributeError):
                    reason = "bad_json"
            self.validation_ok = ok
            self.sim.ledger.record(
                "webhook.validation",
                url=self.url,
                status=status,
                outcome=reason,
                ok=ok,
                event_ts=body_obj["event_ts"],
                request_timestamp=headers["x-zm-request-timestamp"],
            )
            log_event(log, "zoomsim.webhook.validation", url=self.url, ok=ok, outcome=reason)
            return ok
        finally:
            self.validated.set()

    async def _revalidate_loop(self) -> None:
        while True:
            await self.sim.sleep(self.sim.config.url_revalidation_interval_s)
            await self.validate()

    def enqueue(self, body: bytes, meta: dict[str, Any], copy: int, delay_s: float) -> None:
        if not self.url:
            self.sim.ledger.record("webhook.skipped", reason="no_webhook_url", copy=copy, **meta)
            return
        self._delivery_ids += 1
        self.sim.spawn(
            self._deliver(body, meta, copy, delay_s, self._delivery_ids), f"webhook:{meta['event']}"
        )

    async def _deliver(
        self, body: bytes, meta: dict[str, Any], copy: int, delay_s: float, delivery: int
    ) -> None:
        """One copy of one event: the initial attempt and up to three retries, each with a fresh
        timestamp, signature, request id and tracking id, and the same body (so the same event_ts)."""
        await self.validated.wait()
        if delay_s:
            await self.sim.sleep(delay_s)
        schedule = self.sim.config.webhook_retry_schedule_s
        for attempt in range(1, len(schedule) + 2):
            if not self.url:
                self.sim.ledger.record("webhook.skipped", reason="no_webhook_url", copy=copy, **meta)
                return
            status, outcome, _, headers = await self._post(body)
            retry = outcome not in ("delivered", "rejected") and attempt <= len(schedule)
            self.sim.ledger.record(
                "webhook.attempt",
                attempt=attempt,
                copy=copy,
                delivery=delivery,
                status=status,
                outcome=outcome,
                will_retry=retry,
                next_retry_in_s=schedule[attempt - 1] if retry else None,
                request_timestamp=headers["x-zm-request-timestamp"],
                request_id=headers["x-zm-request-id"],
                **meta,
            )
            log_event(
                log,
                "zoomsim.webhook.attempt",
                zoom_event=meta["event"],
                attempt=attempt,
                status=status,
                outcome=outcome,
            )
            if outcome in ("delivered", "rejected"):
                return
            if not retry:
                self.sim.ledger.record(
                    "webhook.gave_up", attempts=attempt, copy=copy, delivery=delivery, **meta
                )
                return
            await self.sim.sleep(schedule[attempt - 1])
