"""What controlplane/runtime/kombu_redis.py assumes of kombu's Redis transport, and its fallback."""

from __future__ import annotations

import inspect

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual

from controlplane.runtime import kombu_redis as patched
from tests.unit.controlplane.runtime.conftest import SkippedEvents

EMPTY = inspect.Parameter.empty


def _parameters(function: object) -> list[tuple[str, object]]:
    assert callable(function)
    return [(p.name, p.default) for p in inspect.signature(function).parameters.values()]


def test_the_overridden_qos_methods_keep_their_signatures() -> None:
    assert _parameters(kombu_redis.QoS.restore_unacked) == [("self", EMPTY), ("client", None)]
    assert _parameters(kombu_redis.QoS.ack) == [("self", EMPTY), ("delivery_tag", EMPTY)]
    assert _parameters(kombu_redis.QoS.reject) == [
        ("self", EMPTY),
        ("delivery_tag", EMPTY),
        ("requeue", False),
    ]


def test_a_detached_message_is_forgotten_locally_by_the_virtual_qos_ack() -> None:
    """What the override calls instead of the Redis QoS's ack: the in-memory bookkeeping, no Redis."""
    assert issubclass(kombu_redis.QoS, virtual.QoS)
    assert _parameters(virtual.QoS.ack) == [("self", EMPTY), ("delivery_tag", EMPTY)]
    assert "_delivered" in vars(virtual.QoS)
    assert "self._delivered.clear()" in inspect.getsource(kombu_redis.QoS.restore_unacked)


def test_the_channel_acquires_a_client_per_call_from_its_pool() -> None:
    """The override keeps one client per pool; it relies on these three being kombu's way to get one."""
    assert _parameters(kombu_redis.Channel.conn_or_acquire) == [("self", EMPTY), ("client", None)]
    create_client = inspect.getattr_static(kombu_redis.Channel, "_create_client")
    assert _parameters(create_client) == [("self", EMPTY), ("asynchronous", False)]
    assert isinstance(inspect.getattr_static(kombu_redis.Channel, "pool"), property)
    assert kombu_redis.Channel.QoS is kombu_redis.QoS
    assert kombu_redis.Transport.Channel is kombu_redis.Channel


def test_the_transport_is_this_projects_on_the_kombu_it_was_written_for(
    skipped_events: SkippedEvents,
) -> None:
    assert patched.transport_class() is patched.SurvivingTransport
    assert patched.Transport is patched.SurvivingTransport  # the name settings.py gives Celery
    assert patched.SurvivingTransport.Channel.QoS is patched.QoS
    assert skipped_events() == []


def test_the_transport_is_kombus_own_and_the_skip_is_logged_when_kombu_is_another_version(
    on_other_versions: SkippedEvents,
) -> None:
    assert patched.transport_class() is kombu_redis.Transport
    assert on_other_versions() == [
        {"patch": "kombu_redis", "library": "kombu", "found": "0.0", "expected": "5.7"}
    ]
