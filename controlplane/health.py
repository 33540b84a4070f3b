"""Liveness, readiness and metrics endpoints of the web process.

``/healthz`` is open (it says nothing but "alive"). ``/metrics`` and the detail of ``/readyz`` (which
database aliases and dependencies answered) are for operators: they need ``Authorization: Bearer
<OPERATIONS_TOKEN>`` (issue #20). Without it ``/readyz`` still answers 200 or 503 with its status alone, so
a load balancer's probe needs no secret; ``/metrics`` answers 401. The token, like Zoom's secrets, is read
from the environment when used, never copied into settings. Instead of the token, ``METRICS_PORT`` serves
the same figures on a port of their own (``METRICS_ADDRESS``, 127.0.0.1 by default), for a scraper on the
internal network.

The figures read from the database at scrape time are read at most once every
``METRICS_DATABASE_INTERVAL_SECONDS`` per process, however often /metrics is asked.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from wsgiref.simple_server import WSGIServer

import redis
from django.conf import settings
from django.db import connections, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Metric,
    generate_latest,
    start_http_server,
)
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

# Collectors that query the database or Redis at scrape time, served by the web process's /metrics only
# (every other process exports just REGISTRY, its own counters). Apps register theirs in ready().
WEB_COLLECTORS = CollectorRegistry(auto_describe=True)


class ScrapeTimeCollector(Collector):
    """Figures read from the database or Redis when /metrics is scraped. Subclasses give ``families()``
    (empty, so registering runs no query: describe() would otherwise be a whole scrape) and
    ``_collect()``; a scrape never fails because a dependency is away, it logs ``unavailable_event``."""

    unavailable_event = "metrics.unavailable"

    def families(self) -> Iterable[Metric]:
        raise NotImplementedError

    def _collect(self) -> Iterator[Metric]:
        raise NotImplementedError

    def describe(self) -> Iterable[Metric]:
        return self.families()

    def collect(self) -> Iterable[Metric]:
        try:
            yield from self._collect()
        except Exception as exc:  # a scrape must never fail because the database or Redis is away
            logger.warning(self.unavailable_event, extra={"error": type(exc).__name__})


class _WebFigures(Collector):
    """This process's counters, and the scrape-time figures as last read (at most every
    METRICS_DATABASE_INTERVAL_SECONDS): a scrape does not query the database each time (issue #20)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._figures: list[Metric] = []

    def scrape_time_figures(self) -> list[Metric]:
        with self._lock:
            if time.monotonic() - self._read_at >= settings.METRICS_DATABASE_INTERVAL_SECONDS:
                self._figures = list(WEB_COLLECTORS.collect())
                self._read_at = time.monotonic()
            return self._figures

    def collect(self) -> Iterable[Metric]:
        yield from REGISTRY.collect()
        yield from self.scrape_time_figures()


WEB_FIGURES = CollectorRegistry(auto_describe=False)
_web_figures = _WebFigures()
WEB_FIGURES.register(_web_figures)


class _ClosingConnections(Collector):
    """For the internal port's server threads, which are not Django requests: their database
    connections go back when the scrape is done."""

    def collect(self) -> Iterable[Metric]:
        try:
            yield from _web_figures.collect()
        finally:
            connections.close_all()


INTERNAL_PORT_FIGURES = CollectorRegistry(auto_describe=False)
INTERNAL_PORT_FIGURES.register(_ClosingConnections())


def metrics_forget() -> None:
    """Read the scrape-time figures afresh at the next scrape (tests)."""
    _web_figures._read_at = float("-inf")


def serve_metrics_on_internal_port() -> WSGIServer | None:
    """The web process's figures on METRICS_PORT without a token, when that is set (controlplane/asgi.py);
    the server, in a daemon thread."""
    if not settings.METRICS_PORT:
        return None
    server, _ = start_http_server(
        settings.METRICS_PORT, addr=settings.METRICS_ADDRESS, registry=INTERNAL_PORT_FIGURES
    )
    logger.info("metrics.serving", extra={"port": settings.METRICS_PORT, "address": settings.METRICS_ADDRESS})
    return server


OPERATIONS_TOKEN_ENV = "OPERATIONS_TOKEN"


def is_operator(request: HttpRequest) -> bool:
    """The request carries the operations token (compared in constant time); never when none is set."""
    token = os.environ.get(OPERATIONS_TOKEN_ENV, "").strip()
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving; says nothing about its dependencies."""
    return JsonResponse({"status": "ok"})


def _check_database(alias: str) -> str | None:
    timeout_ms = int(settings.READINESS_TIMEOUT.total_seconds() * 1000)
    try:
        # SET LOCAL lasts only for this transaction, so the pooled connection keeps its own timeout.
        with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = %s", [timeout_ms])
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure means "not ready"; the kind is reported, not raised
        logger.warning("readyz.database_failed", extra={"alias": alias, "error": type(exc).__name__})
        return type(exc).__name__
    return None


def _check_redis() -> str | None:
    timeout = settings.READINESS_TIMEOUT.total_seconds()
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        logger.warning("readyz.redis_failed", extra={"error": type(exc).__name__})
        return type(exc).__name__
    return None


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready when every database alias (control and region content) and Redis answer."""
    checks: dict[str, str] = {}
    for alias in settings.DATABASES:
        error = _check_database(alias)
        checks[f"database:{alias}"] = error or "ok"
    redis_error = _check_redis()
    checks["redis"] = redis_error or "ok"
    ready = all(value == "ok" for value in checks.values())
    body: dict[str, object] = {"status": "ok" if ready else "unavailable"}
    if is_operator(request):  # which aliases and dependencies: for operators only
        body["checks"] = checks
    return JsonResponse(body, status=200 if ready else 503)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not is_operator(request):
        response = JsonResponse(
            {"error": f"metrics need Authorization: Bearer <{OPERATIONS_TOKEN_ENV}> (docs/deploy.md)"},
            status=401,
        )
        response["WWW-Authenticate"] = "Bearer"
        return response
    return HttpResponse(generate_latest(WEB_FIGURES), content_type=CONTENT_TYPE_LATEST)
