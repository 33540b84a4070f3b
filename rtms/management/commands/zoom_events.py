"""``manage.py zoom_events`` (contract): the Zoom event-subscription WebSocket client.

Feeds the same inbox as the webhook. Several replicas may run: per account, a database lease lets exactly
one hold the Zoom connection. The holder renews every third of the TTL; when it cannot renew within half
the TTL it closes its Zoom socket *before* the lease can expire, because Zoom lets a second connection kick
the first and two holders would fight. A standby polls and takes over once the lease lapses. After every
(re)connection it asks for a reconciliation: events sent while nobody was connected are gone for good.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import uuid
from functools import partial
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, transaction
from prometheus_client import Gauge, start_http_server

from controlplane.persistent_connections import use_persistent_connections
from rtms import hooks
from rtms.accounts import account_api_credentials
from rtms.asyncdb import db
from rtms.inbox.receive import ingest
from rtms.inbox.refused import delivery_refuse
from rtms.leases import HeldLease, LeaderLease, LeaseLost, lease_fence, lease_owner
from rtms.models import Channel, ZoomAccount
from rtms.zoom.credentials import MissingCredentials
from rtms.zoom.events import EventSubscription, SubscriptionConfig
from rtms.zoom.protocol import ProtocolError
from rtms.zoom_clients import zoom_api_for

logger = logging.getLogger(__name__)

LEADER = Gauge("rtms_events_leader", "1 while this process holds the account's event connection", ["account"])
CONNECTED = Gauge("rtms_events_connected", "1 while the Zoom event WebSocket is open", ["account"])
STORE_ATTEMPTS = 3


def _ingest_while_leading(held: HeldLease, body: dict[str, object], *, source_account_pk: int | None) -> None:
    """Store an event only while ``held`` is still this process's lease (raises LeaseLost otherwise)."""
    with transaction.atomic():
        lease_fence(held)
        ingest(body, channel=Channel.WEBSOCKET, source_account_pk=source_account_pk)


class AccountSubscriber:
    def __init__(self, account: ZoomAccount, owner: str) -> None:
        self.account = account
        self.owner = owner
        self.lease_name = f"events:{account.zoom_account_id}"
        self.ttl = settings.EVENTS_LEASE_TTL
        self.api = zoom_api_for(account)
        self.label = account.zoom_account_id
        creds = account_api_credentials(account)
        self.config = SubscriptionConfig(
            url=settings.ZOOM_EVENTS_WS_URL,
            subscription_id=creds.event_subscription_id,
            heartbeat_interval_s=settings.EVENTS_HEARTBEAT.total_seconds(),
            connect_timeout_s=settings.ZOOM_HTTP_TIMEOUT.total_seconds(),
            backoff_initial_s=min(1.0, settings.EVENTS_BACKOFF_CAP.total_seconds()),
            backoff_cap_s=settings.EVENTS_BACKOFF_CAP.total_seconds(),
        )

    async def _token(self, force_refresh: bool) -> str:
        return str(await sync_to_async(self.api.access_token)(force_refresh=force_refresh))

    async def _store(self, held: HeldLease, body: dict[str, object]) -> None:
        for attempt in range(1, STORE_ATTEMPTS + 1):
            try:
                await db(_ingest_while_leading)(held, body, source_account_pk=self.account.pk)
                return
            except LeaseLost:
                # Read from the socket after the lease passed on (this process was paused, say): the new
                # leader's connection receives the events now; this one stores nothing more.
                logger.warning("events.fenced", extra={"account": self.label, "token": held.token})
                return
            except ProtocolError as exc:  # ingest counted and recorded the refusal
                logger.warning(
                    "events.malformed_event",
                    extra={"account": self.label, "reason": exc.reason, "error": str(exc)[:200]},
                )
                return
            except DatabaseError as exc:
                logger.warning(
                    "events.store_failed",
                    extra={"account": self.label, "attempt": attempt, "error": type(exc).__name__},
                )
                await asyncio.sleep(0.2 * 2**attempt)
        # The reconciler repairs whatever this event would have told us.
        await hooks.ask_reconcile_from_loop(zoom_account_id=self.label, reason="events-store-failed")

    async def _refused(self, reason: str) -> None:
        """A frame the subscription could not read: refused like a body that cannot be stored."""
        await db(delivery_refuse)(channel=Channel.WEBSOCKET, reason=reason)

    async def _connected(self) -> None:
        CONNECTED.labels(self.label).set(1)
        await hooks.ask_reconcile_from_loop(zoom_account_id=self.label, reason="events-gap")

    async def _disconnected(self, reason: str) -> None:
        CONNECTED.labels(self.label).set(0)

    async def run(self, stop: asyncio.Event) -> None:
        leader = LeaderLease(
            self.lease_name, self.owner, self.ttl, log_prefix="events", log_extra={"account": self.label}
        )
        await leader.run(stop, self._lead)

    async def _lead(self, sub_stop: asyncio.Event, held: HeldLease) -> None:
        """The work of the leader: hold the account's event connection until told to stop."""
        LEADER.labels(self.label).set(1)
        subscription = EventSubscription(
            self.config,
            get_token=self._token,
            on_event=partial(self._store, held),
            on_connected=self._connected,
            on_disconnected=self._disconnected,
            on_refused=self._refused,
        )
        try:
            await subscription.run(sub_stop)
        finally:
            CONNECTED.labels(self.label).set(0)
            LEADER.labels(self.label).set(0)


class Command(BaseCommand):
    help = "Hold the Zoom event-subscription WebSocket of every active account (leader-elected)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", action="append", default=[], help="only these Zoom account ids")
        parser.add_argument(
            "--metrics-port",
            type=int,
            default=int(os.environ.get("EVENTS_METRICS_PORT", "0") or 0),
            help="serve Prometheus metrics on this port (0: off)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        use_persistent_connections()
        if options["metrics_port"]:
            start_http_server(options["metrics_port"], addr="127.0.0.1")
        gc.freeze()  # start-up objects live as long as the process: keep them out of full collections
        asyncio.run(self._main(options["account"]))

    async def _main(self, only: list[str]) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        owner = lease_owner(uuid.uuid4().hex[:8])
        accounts = await db(lambda: list(ZoomAccount.objects.filter(active=True)))()
        subscribers = []
        for account in accounts:
            if only and account.zoom_account_id not in only:
                continue
            try:
                subscriber = AccountSubscriber(account, owner)
            except MissingCredentials as exc:
                logger.error(
                    "events.account_skipped", extra={"account": account.zoom_account_id, "error": str(exc)}
                )
                continue
            if not subscriber.config.subscription_id:
                logger.error("events.no_subscription_id", extra={"account": account.zoom_account_id})
                continue
            subscribers.append(subscriber)
        if not subscribers:
            logger.error("events.nothing_to_do")
            return
        logger.info("events.started", extra={"owner": owner, "accounts": [s.label for s in subscribers]})
        await asyncio.gather(*(s.run(stop) for s in subscribers))
        logger.info("events.shutdown", extra={"owner": owner})
