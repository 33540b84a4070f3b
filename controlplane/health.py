"""Liveness, readiness and metrics endpoints of the web process."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import redis
from django.conf import settings
from django.db import connections, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Metric, generate_latest
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
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    return HttpResponse(
        generate_latest(REGISTRY) + generate_latest(WEB_COLLECTORS), content_type=CONTENT_TYPE_LATEST
    )
