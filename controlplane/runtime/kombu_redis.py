"""Our Celery broker transport: kombu's Redis transport, made to survive losing Redis with tasks in flight.

Why: when the broker connection drops while a worker holds unacknowledged messages (``acks_late``: any busy
worker), Celery closes the connection, and kombu's channel then tries to put those messages back. By then
the transport has already let go of its client, so kombu raises ``AttributeError`` ('NoneType' object has no
attribute 'hostname') instead of a connection error. Celery treats that as unrecoverable: the worker starts
shutting down, fails to stop its event loop, and hangs without consuming (tests/e2e/test_redis_restart.py
caught it in 2 runs of 3).

Skipping the put-back loses nothing. The messages are still in Redis's ``unacked`` hash when Redis survived,
and kombu's visibility-timeout sweep redelivers them (``CELERY_VISIBILITY_TIMEOUT_SECONDS``, under Zoom's
60 s window). When Redis itself restarted empty, there is nothing to put back into, and the inbox sweeper
and the reconciler re-create the work from the database.

The subclasses override private parts of kombu 5.7's Redis transport (``QoS.restore_unacked``, the
channel's ``conn_or_acquire`` and ``_create_client``), so ``Transport``, the name settings.py gives Celery,
is kombu's own transport on any other kombu version (docs/patches.md). kombu loads it by that name with the
first broker connection of a process, which is where the version is checked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual

from controlplane.runtime.patch import Patch, Pin

logger = logging.getLogger(__name__)

PATCH = Patch("kombu_redis", (Pin("kombu", ((5, 7),)),))


class QoS(kombu_redis.QoS):
    def restore_unacked(self, client: Any = None) -> None:
        try:
            super().restore_unacked(client)
        except AttributeError as exc:  # the transport is already detached: see the module docstring
            delivered: dict[str, Any] = self._delivered or {}
            logger.warning(
                "broker.restore_unacked_skipped", extra={"messages": len(delivered), "error": str(exc)[:120]}
            )
            delivered.clear()

    # The same detachment hits a task that finishes after the connection dropped: its late ack (or reject)
    # runs on the old channel, whose transport is gone, and kombu raises AttributeError ('NoneType' object
    # has no attribute 'client') from inside the worker's event loop, which Celery takes as unrecoverable:
    # the worker exits (tests/e2e/test_redis_restart.py). Such a message can only be forgotten locally.
    # If Redis survived, the visibility timeout redelivers it and the task runs again (every task is
    # idempotent by the database); if Redis restarted empty, there is nothing left to remove.

    def _detached(self) -> bool:
        return getattr(self.channel, "connection", None) is None

    def ack(self, delivery_tag: Any) -> None:
        if self._detached():
            logger.warning("broker.ack_skipped", extra={"delivery_tag": str(delivery_tag)})
            virtual.QoS.ack(self, delivery_tag)
            return
        super().ack(delivery_tag)

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        if self._detached():
            logger.warning("broker.reject_skipped", extra={"delivery_tag": str(delivery_tag)})
            virtual.QoS.ack(self, delivery_tag)  # forget it here; redelivery is Redis's, as above
            return
        super().reject(delivery_tag, requeue=requeue)


class Channel(kombu_redis.Channel):
    QoS = QoS
    _shared_client: Any = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        """kombu builds a new redis-py client object for every publish, and building one was a large part
        of the publish's CPU (bench/ingest.py, the webhook's enqueue). A client is thread-safe and
        cheap to keep: reuse one per connection pool, and build a new one when kombu replaces the pool."""
        if client:
            yield client
            return
        pool = self.pool
        shared = self._shared_client
        if shared is None or shared.connection_pool is not pool:
            shared = self._shared_client = self._create_client()  # type: ignore[attr-defined]
        yield shared


class SurvivingTransport(kombu_redis.Transport):
    Channel = Channel


def transport_class() -> type[kombu_redis.Transport]:
    """This project's transport on the kombu it was written against, else kombu's own (and a warning)."""
    return SurvivingTransport if PATCH.check() else kombu_redis.Transport


Transport = transport_class()
