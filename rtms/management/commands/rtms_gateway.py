"""``manage.py rtms_gateway --region <code>`` (contract): hold the RTMS streams of one region.

Run several per region: leases decide who holds which stream, and a gateway that dies is replaced by the
others once its leases lapse. SIGTERM drains: close sockets, flush transcripts, release leases.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import logging
import os
import signal
import uuid
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from prometheus_client import start_http_server

from controlplane.persistent_connections import use_persistent_connections
from controlplane.runtime.asyncio_tls import limit_tls_read_buffers
from regions.models import Region
from regions.startup import refuse_unstorable_regions
from rtms.gateway import metrics
from rtms.gateway.notify import listen_for_region
from rtms.gateway.runner import Gateway, GatewayConfig
from rtms.leases import lease_owner
from rtms.zoom.media import MediaClientConfig

logger = logging.getLogger(__name__)

GC_YOUNG_THRESHOLD = 20_000
WORKER_THREADS = 4


def _keepalive_observed(region_code: str, socket_kind: str, age_s: float) -> None:
    metrics.KEEPALIVE_AGE.labels(region_code, socket_kind).observe(age_s)


class Command(BaseCommand):
    help = "Connect to the RTMS streams of one region and store their transcripts in the region."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--region", required=True, help="region code, e.g. eu-central")
        parser.add_argument("--capacity", type=int, default=int(os.environ.get("GATEWAY_CAPACITY", "1000")))
        parser.add_argument(
            "--metrics-port",
            type=int,
            default=int(os.environ.get("GATEWAY_METRICS_PORT", "0") or 0),
            help="serve Prometheus metrics on this port (0: off)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        use_persistent_connections()
        code = options["region"]
        if not Region.objects.filter(code=code, active=True).exists():
            raise CommandError(f"unknown or inactive region {code!r}")
        try:
            refuse_unstorable_regions("gateway")
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        if options["capacity"] < 1:
            raise CommandError("--capacity must be at least 1")
        if options["metrics_port"]:
            start_http_server(options["metrics_port"], addr="127.0.0.1")
        ttl = settings.STREAM_LEASE_TTL
        config = GatewayConfig(
            region_code=code,
            owner=lease_owner(uuid.uuid4().hex[:8]),
            lease_ttl=ttl,
            renew_every_s=settings.STREAM_LEASE_RENEW.total_seconds(),
            poll_every_s=max(0.5, settings.STREAM_LEASE_RENEW.total_seconds()),
            capacity=options["capacity"],
            flush_interval_s=settings.TRANSCRIPT_FLUSH_INTERVAL.total_seconds(),
            flush_max_rows=settings.TRANSCRIPT_FLUSH_MAX_ROWS,
            media=MediaClientConfig(
                connect_timeout_s=settings.RTMS_CONNECT_TIMEOUT.total_seconds(),
                keepalive_timeout_s=settings.RTMS_KEEPALIVE_TIMEOUT.total_seconds(),
                backoff_initial_s=settings.RTMS_RECONNECT_BACKOFF_INITIAL.total_seconds(),
                backoff_cap_s=settings.RTMS_RECONNECT_BACKOFF_CAP.total_seconds(),
                reconnect_window_s=settings.RTMS_SIGNALING_RECONNECT_WINDOW.total_seconds() * 1.5,
                on_keepalive=partial(_keepalive_observed, code),
            ),
            ca_file=settings.RTMS_CA_FILE or None,
            duplicate_window=settings.RTMS_SIGNALING_RECONNECT_WINDOW * 1.5,
            server_hosts=tuple(settings.RTMS_SERVER_HOSTS),
            allow_plain_ws=settings.RTMS_ALLOW_PLAIN_WS,
            buffer_max_segments=settings.GATEWAY_BUFFER_MAX_SEGMENTS,
        )
        # Each segment makes short-lived objects; with the default young-generation threshold (700) many
        # of them were still alive at a collection, got promoted and brought on full collections of
        # every stream's objects, long pauses that made the gateway's p99 (docs/benchmarks.md, "Figures
        # behind the code"). A larger young generation lets them die young.
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        limit_tls_read_buffers()
        gc.freeze()  # start-up objects live as long as the process: keep them out of full collections
        asyncio.run(self._main(config))

    async def _main(self, config: GatewayConfig) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # Segment flushes and state writes run on the loop's default executor, and every worker thread
        # keeps a pooled connection per database it used. Python's default (up to 32 threads by CPU count)
        # could hold more than DB_POOL_MAX_SIZE and starve the claims; those writers run one batch at a
        # time each, so a few threads are enough.
        loop.set_default_executor(
            concurrent.futures.ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="gateway-io")
        )
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        gateway = Gateway(config)
        listener = asyncio.create_task(
            listen_for_region(config.region_code, gateway.wake, stop, timeout_s=config.renew_every_s),
            name="listen",
        )
        logger.info("gateway.started", extra={"region": config.region_code, "owner": config.owner})
        try:
            await gateway.run(stop)
        finally:
            stop.set()
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            logger.info("gateway.stopped", extra={"region": config.region_code})
