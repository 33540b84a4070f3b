"""controlplane/runtime/kombu_redis.py against a real Redis: a late ack on a channel whose connection is
gone."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from kombu import Connection

from controlplane.runtime.kombu_redis import QoS


@pytest.mark.parametrize("settle", ["ack", "reject"])
def test_settling_a_message_after_its_connection_closed_does_not_raise(settle: str) -> None:
    """A task that finishes after the broker connection dropped acks on the old channel. kombu's Redis
    transport raised AttributeError there, which Celery took as unrecoverable and the worker exited."""
    queue_name = f"broker-test-{uuid.uuid4().hex}"
    conn = Connection(os.environ["REDIS_URL"], transport="controlplane.runtime.kombu_redis:Transport")
    queue = conn.SimpleQueue(queue_name)
    try:
        queue.put({"n": 1})
        message = queue.get(timeout=5)
        channel: Any = message.channel
        qos = channel.qos
        assert isinstance(qos, QoS)
        # The state a worker's channel was in after Celery handled the connection loss: detached from the
        # transport, its pools released (kombu's own close re-creates one while putting messages back).
        conn.close()
        channel._disconnect_pools()
        assert channel.connection is None and channel._pool is None
        getattr(message, settle)()  # must not raise
        assert message.delivery_tag not in (qos._delivered or {})
    finally:
        cleanup = Connection(os.environ["REDIS_URL"], transport="controlplane.runtime.kombu_redis:Transport")
        try:
            default_channel: Any = cleanup.default_channel
            client = default_channel.client
            client.delete(queue_name)
        finally:
            cleanup.close()
