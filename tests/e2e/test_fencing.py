"""Fencing with real processes (issue #21): a gateway or event subscriber paused by SIGSTOP past its lease
loses it to a standby, and when it resumes it writes nothing with its old token and does not fight the
new holder. No segment is stored twice, and no stream ever has two signaling connections.

(A gateway cut off from the database fences itself the same way: tests/e2e/test_database_outage.py.)
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from typing import Any

import pytest

from rtms.models import Lease, RtmsStream
from tests.e2e.conftest import SimEnvProcs
from tests.e2e.harness import (
    ANY_ERROR,
    POLL_S,
    Proc,
    ledger,
)
from tests.e2e.test_gateway import _delivered, _script, _stored
from tests.eventually import eventually
from zoomsim.testing import SimServer

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.timeout(240)]

EU_ALIAS = "region_eu_central"
PAUSE_S = 8.0  # well past the fast profile's leases (3 s)


def _pause(proc: Proc) -> None:
    os.killpg(proc.popen.pid, signal.SIGSTOP)


def _resume(proc: Proc) -> None:
    os.killpg(proc.popen.pid, signal.SIGCONT)


def _owned_by(proc: Proc, owner: str) -> bool:
    return f":{proc.popen.pid}:" in owner


def _log_since(proc: Proc, offset: int) -> str:
    return proc.log()[offset:]


def test_a_paused_gateway_loses_its_stream_and_never_writes_with_its_old_token(
    own_broker_base: SimEnvProcs,
) -> None:
    sim, env, procs = own_broker_base
    first = Proc.manage("gateway-paused", ["rtms_gateway", "--region", "eu-central"], env)
    procs.append(first)
    uuid = sim.client.create_meeting(
        "anna@eu.example.com",
        rtms="api",
        transcript=_script(600, "fence"),
        segment_interval_ms=1000,  # 200 ms real
        speak_from="first_client",
    )["meeting_uuid"]
    eventually(
        lambda: len(_stored(EU_ALIAS, uuid)) >= 5,
        timeout=60,
        interval=0.3,
        what="first segments stored",
        tolerate=ANY_ERROR,
    )
    stream = RtmsStream.objects.get(meeting__zoom_uuid=uuid)
    assert _owned_by(first, stream.lease_owner)
    second = Proc.manage("gateway-standby", ["rtms_gateway", "--region", "eu-central"], env)
    procs.append(second)

    _pause(first)
    paused_at = max(e["seq"] for e in ledger(sim))
    paused_mono = time.monotonic()
    # Past the lease the standby claims the stream, fencing its writes. Zoom still holds the paused
    # gateway's signaling socket (a stopped process's TCP connection stays open, and keep-alives are not
    # sent while someone speaks), so it refuses the standby as a duplicate: never two clients.
    eventually(
        lambda: _owned_by(second, RtmsStream.objects.get(pk=stream.pk).lease_owner),
        timeout=60,
        interval=0.3,
        what="the standby took the stream over",
        tolerate=ANY_ERROR,
    )
    time.sleep(max(0.0, PAUSE_S - (time.monotonic() - paused_mono)))
    offset = len(first.log())
    _resume(first)
    resumed_at = max(e["seq"] for e in ledger(sim))
    eventually(
        lambda: (
            "gateway.leases_expired" in _log_since(first, offset)
            or "gateway.lease_lost" in _log_since(first, offset)
        ),
        timeout=30,
        interval=0.3,
        what="the resumed gateway dropped the stream, sockets first",
    )
    eventually(
        lambda: [
            e
            for e in ledger(sim, kind="rtms.connection", meeting_uuid=uuid)
            if e["action"] == "opened" and e["socket"] == "signaling" and e["seq"] > resumed_at
        ],
        timeout=60,
        interval=0.3,
        what="the standby connected once the paused gateway let go",
        tolerate=ANY_ERROR,
    )
    taken = RtmsStream.objects.get(pk=stream.pk).lease_token
    stored_now = len(_stored(EU_ALIAS, uuid))
    eventually(
        lambda: len(_stored(EU_ALIAS, uuid)) >= stored_now + 5,
        timeout=60,
        interval=0.3,
        what="the standby stores segments",
        tolerate=ANY_ERROR,
    )
    time.sleep(3.0)  # the resumed gateway's flushes (every 0.1 s) and moves have run by now

    current = RtmsStream.objects.get(pk=stream.pk)
    assert current.lease_token == taken and _owned_by(second, current.lease_owner), "not fought back"
    assert current.state == "connected", "the old holder did not move the new holder's stream"
    # What zoomsim wrote to the paused gateway's sockets it could only have read after resuming, when
    # the stream's fence already named the standby's token: none of it may be stored.
    first_connections = {
        e["connection"]
        for e in ledger(sim, kind="rtms.connection", meeting_uuid=uuid)
        if e["action"] == "opened" and e["seq"] <= paused_at
    }
    late = {e["text"] for e in _delivered_since(sim, uuid, paused_at) if e["connection"] in first_connections}
    stored = [s.text for s in _stored(EU_ALIAS, uuid)]
    assert not late & set(stored), f"written with the old token: {sorted(late & set(stored))}"
    twice = {t: c for t, c in Counter(stored).items() if c > 1}
    assert not twice, f"segments stored twice: {twice}"
    assert set(stored) <= {e["text"] for e in _delivered(sim, uuid)}
    counts = [int(e.get("signaling_open") or 0) for e in ledger(sim, kind="rtms.connection")]
    assert max(counts, default=0) <= 1, "never two signaling sockets for the stream"
    assert first.alive() and second.alive()


def _delivered_since(sim: SimServer, uuid: str, seq: int) -> list[dict[str, Any]]:
    return [e for e in _delivered(sim, uuid) if e["seq"] > seq]


def test_a_paused_event_subscriber_stores_nothing_after_its_lease_passed_on(
    own_broker_base: SimEnvProcs,
) -> None:
    sim, env, procs = own_broker_base
    subscribers = [Proc.manage(f"events-{n}", ["zoom_events"], env) for n in ("a", "b")]
    procs.extend(subscribers)
    eventually(
        lambda: ledger(sim, kind="ws.connected"),
        timeout=60,
        interval=POLL_S,
        what="one subscriber connected",
        tolerate=ANY_ERROR,
    )
    owner = Lease.objects.get(name="events:test-account").owner
    leader = next(p for p in subscribers if _owned_by(p, owner))
    standby = next(p for p in subscribers if p is not leader)

    _pause(leader)
    # Sent on the paused leader's socket: it sits there, unread, until the leader resumes.
    sim.client.create_meeting("ben@eu.example.com", rtms="none")
    eventually(
        lambda: _owned_by(standby, Lease.objects.get(name="events:test-account").owner),
        timeout=60,
        interval=0.3,
        what="the standby leads",
        tolerate=ANY_ERROR,
    )
    eventually(
        lambda: len(ledger(sim, kind="ws.connected")) == 2,
        timeout=60,
        interval=POLL_S,
        what="the standby connected (and Zoom dropped the paused leader)",
        tolerate=ANY_ERROR,
    )
    offset = len(leader.log())
    _resume(leader)
    eventually(
        lambda: "events.lease_lost" in _log_since(leader, offset),
        timeout=30,
        interval=0.3,
        what="the resumed leader saw its lease gone",
    )
    sim.client.create_meeting("chloe@eu.example.com", rtms="none")
    time.sleep(3.0)  # a leader fighting back would reconnect within its backoff cap (2 s)
    resumed = _log_since(leader, offset)
    assert "inbox.received" not in resumed, "the old leader stored an event after its lease passed on"
    assert len(ledger(sim, kind="ws.connected")) == 2, "the old leader did not connect again"
    assert _owned_by(standby, Lease.objects.get(name="events:test-account").owner)
    assert leader.alive() and standby.alive()
