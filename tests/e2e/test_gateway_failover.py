"""The gateway against zoomsim's stream faults (zoom-protocol.md §2.6) and a SIGTERM drain, with real
processes: each fault on a live stream with a running transcript is recovered from the way the table says
(both sockets, one media socket, the new server generation, or not at all after a host stop), with at
most one signaling connection at any moment and every delivered segment stored exactly once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models.functions import Now

from rtms.models import RtmsStream
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

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.timeout(150)]

EU_ALIAS = "region_eu_central"
LINES = 400  # 200 ms real each: far longer than any test needs, the meeting is ended explicitly


# --- helpers -------------------------------------------------------------------------------------------
def _live_meeting(sim: SimServer, tag: str) -> tuple[str, str]:
    """A meeting whose transcript flows to the gateway: (meeting uuid, rtms_stream_id)."""
    uuid = sim.client.create_meeting(
        "anna@eu.example.com",
        rtms="api",
        transcript=_script(LINES, tag),
        segment_interval_ms=1000,  # 200 ms real
        speak_from="first_client",
    )["meeting_uuid"]
    eventually(
        lambda: len(_delivered(sim, uuid)) >= 5,
        timeout=60,
        interval=0.3,
        what="first segments",
        tolerate=ANY_ERROR,
    )
    eventually(
        lambda: len(_stored(EU_ALIAS, uuid)) >= 5,
        timeout=30,
        interval=0.3,
        what="first stored",
        tolerate=ANY_ERROR,
    )
    streams = sim.client.get_meeting(uuid)["streams"]
    assert len(streams) == 1
    return uuid, str(streams[0]["rtms_stream_id"])


def _connections(sim: SimServer) -> list[dict[str, Any]]:
    # Unfiltered by meeting: a refusal for a stale generation carries no meeting_uuid, and each test has
    # a zoomsim of its own with a single meeting.
    return ledger(sim, kind="rtms.connection")


def _opened(
    sim: SimServer, socket: str, *, after: int = -1, media: str | None = None
) -> list[dict[str, Any]]:
    return [
        e
        for e in _connections(sim)
        if e["action"] == "opened"
        and e["socket"] == socket
        and e["seq"] > after
        and (media is None or e.get("media") == media)
    ]


def _fault_seq(sim: SimServer, uuid: str) -> int:
    return int(ledger(sim, kind="fault.rtms", meeting_uuid=uuid)[-1]["seq"])


def _delivered_after(sim: SimServer, uuid: str, seq: int) -> list[dict[str, Any]]:
    return [e for e in _delivered(sim, uuid) if e["seq"] > seq]


def _keeps_flowing(sim: SimServer, uuid: str, since: int, n: int = 5) -> None:
    """New segments reach a ready client after `since` (a ledger seq) and are stored."""
    eventually(
        lambda: len(_delivered_after(sim, uuid, since)) >= n,
        timeout=60,
        interval=0.3,
        what="segments resumed",
        tolerate=ANY_ERROR,
    )
    texts = {e["text"] for e in _delivered_after(sim, uuid, since)[:n]}
    eventually(
        lambda: texts <= {s.text for s in _stored(EU_ALIAS, uuid)},
        timeout=30,
        interval=0.3,
        what="resumed segments stored",
        tolerate=ANY_ERROR,
    )


def _end(sim: SimServer, uuid: str) -> None:
    sim.client.end_meeting(uuid)
    eventually(
        lambda: RtmsStream.objects.get(meeting__zoom_uuid=uuid).state == "stopped",
        timeout=60,
        interval=0.3,
        what="stream stopped",
        tolerate=ANY_ERROR,
    )


def _assert_stored_once(sim: SimServer, uuid: str, *, may_miss: set[str]) -> None:
    """Every delivered segment stored exactly once; only texts in `may_miss` may be absent."""
    delivered = {e["text"] for e in _delivered(sim, uuid)}

    def settled() -> bool:
        return not (delivered - {s.text for s in _stored(EU_ALIAS, uuid)} - may_miss)

    try:
        eventually(settled, timeout=30, interval=0.3, what="delivered segments stored", tolerate=ANY_ERROR)
    except AssertionError:
        pass  # the assertions below say what is wrong
    stored = [s.text for s in _stored(EU_ALIAS, uuid)]
    twice = {t: c for t, c in Counter(stored).items() if c > 1}
    assert not twice, f"segments stored more than once: {twice}"
    assert set(stored) <= delivered, "only delivered segments are stored"
    missing = delivered - set(stored)
    assert missing <= may_miss, f"delivered but not stored: {sorted(missing - may_miss)}"
    assert len(missing) <= 2, sorted(missing)


def _at_most_one_signaling(sim: SimServer) -> None:
    counts = [int(e.get("signaling_open") or 0) for e in _connections(sim)]
    assert max(counts) <= 1, "never two signaling sockets for the stream at once"


def _never(predicate: Callable[[], object], *, for_s: float, what: str) -> None:
    """`predicate` stays falsy for the whole observation window. The window itself is under test (a negative
    can only be watched for a while), so this is not tests/eventually.py, which stops at the first success."""
    deadline = time.monotonic() + for_s
    while time.monotonic() < deadline:
        seen = predicate()
        assert not seen, f"{what}: {seen}"
        time.sleep(0.3)


def _taken_by(gateway: Proc, stream_pk: int) -> None:
    eventually(
        lambda: f":{gateway.popen.pid}:" in RtmsStream.objects.get(pk=stream_pk).lease_owner,
        timeout=60,
        interval=0.3,
        what=f"{gateway.name} took the stream",
        tolerate=ANY_ERROR,
    )


def _tail_before(sim: SimServer, uuid: str, seq: int, n: int = 2) -> set[str]:
    """The last `n` segments zoomsim wrote to the sockets before ledger seq `seq`."""
    return {e["text"] for e in [e for e in _delivered(sim, uuid) if e["seq"] < seq][-n:]}


# --- §2.6: faults on a live stream -------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["kill_signaling", "kill_media", "failover"])
def test_a_stream_fault_is_recovered_without_loss_or_duplicates(
    own_broker_base: SimEnvProcs, fault: str
) -> None:
    sim, env, procs = own_broker_base
    procs.append(Proc.manage(f"gateway-{fault}", ["rtms_gateway", "--region", "eu-central"], env))
    uuid, sid = _live_meeting(sim, fault)
    signaling_before = _opened(sim, "signaling")
    assert len(signaling_before) == 1

    if fault == "kill_signaling":
        sim.client.kill_signaling(sid)
    elif fault == "kill_media":
        sim.client.kill_media(sid, "transcript")
    else:
        answer = sim.client.failover(sid)
        assert answer["generation"] != answer["old_generation"]
    at = _fault_seq(sim, uuid)

    if fault == "kill_signaling":
        # Zoom's signal for this row is meeting.rtms_interrupted; both sockets come back.
        eventually(
            lambda: any(
                e["seq"] > at for e in ledger(sim, kind="event.emitted", event="meeting.rtms_interrupted")
            ),
            timeout=10,
            interval=POLL_S,
            what="rtms_interrupted sent",
            tolerate=ANY_ERROR,
        )
        eventually(
            lambda: _opened(sim, "signaling", after=at),
            timeout=60,
            interval=POLL_S,
            what="signaling reconnected",
            tolerate=ANY_ERROR,
        )
        eventually(
            lambda: _opened(sim, "media", after=at, media="transcript"),
            timeout=60,
            interval=POLL_S,
            what="media reconnected",
            tolerate=ANY_ERROR,
        )
    elif fault == "kill_media":
        eventually(
            lambda: _opened(sim, "media", after=at, media="transcript"),
            timeout=60,
            interval=POLL_S,
            what="transcript media reconnected",
            tolerate=ANY_ERROR,
        )
    else:
        generation = answer["generation"]
        eventually(
            lambda: [e for e in _opened(sim, "signaling", after=at) if e["generation"] == generation],
            timeout=60,
            interval=POLL_S,
            what="signaling on the new generation",
            tolerate=ANY_ERROR,
        )
        eventually(
            lambda: [
                e
                for e in _opened(sim, "media", after=at, media="transcript")
                if e["generation"] == generation
            ],
            timeout=60,
            interval=POLL_S,
            what="media on the new generation",
            tolerate=ANY_ERROR,
        )
        assert not [e for e in _opened(sim, "signaling", after=at) if e["generation"] != generation]
        eventually(
            # zoomsim's server_urls is the one signaling URL of the event; the product keeps a list.
            lambda: answer["server_urls"] in RtmsStream.objects.get(meeting__zoom_uuid=uuid).server_urls,
            timeout=30,
            interval=POLL_S,
            what="the new server_urls recorded",
            tolerate=ANY_ERROR,
        )

    _keeps_flowing(sim, uuid, at)
    if fault == "kill_media":
        # §2.6 row 3: that media socket only; signaling stayed up the whole time.
        assert _opened(sim, "signaling") == signaling_before, "signaling was reconnected for a media loss"
        assert not [e for e in _connections(sim) if e["socket"] == "signaling" and e["action"] == "closed"]
    _end(sim, uuid)
    _at_most_one_signaling(sim)
    # Allowed misses, only around the fault: the fault drops sockets without a close frame (TCP abort),
    # so at most the last couple of segments zoomsim had written just before it (ledger `delivered`: the
    # write succeeded) may never have reached the product's reader, or were in flight on a media socket
    # the product tore down while reacting to the loss. Everything delivered after the fault must be stored.
    _assert_stored_once(sim, uuid, may_miss=_tail_before(sim, uuid, at))


def test_a_late_rtms_interrupted_does_not_start_a_reconnect_loop(own_broker_base: SimEnvProcs) -> None:
    sim, env, procs = own_broker_base
    procs.append(Proc.manage("gateway-late-interrupted", ["rtms_gateway", "--region", "eu-central"], env))
    uuid, sid = _live_meeting(sim, "late")
    # Only the first copy is late (5 s simulated, 1 s real), as a slow webhook would be: the gateway has
    # reconnected by itself (it saw the socket drop) before the product learns of the interruption.
    sim.client.add_event_fault("meeting.rtms_interrupted", action="delay", delay_s=5, times=1)
    sim.client.kill_signaling(sid)
    at = _fault_seq(sim, uuid)
    eventually(
        lambda: _opened(sim, "signaling", after=at),
        timeout=60,
        interval=POLL_S,
        what="signaling reconnected",
        tolerate=ANY_ERROR,
    )
    eventually(
        lambda: [
            e
            for e in ledger(sim, kind="webhook.attempt", event="meeting.rtms_interrupted")
            if e.get("outcome") == "delivered"
        ],
        timeout=30,
        interval=POLL_S,
        what="the late rtms_interrupted delivered",
        tolerate=ANY_ERROR,
    )

    # Acting on the late signal once more is tolerable; a loop is not. Watched for several gateway polls
    # (1 s) and webhook round trips.
    def loop() -> str:
        reconnects = len(_opened(sim, "signaling", after=at))
        interrupted = len(ledger(sim, kind="event.emitted", event="meeting.rtms_interrupted"))
        if reconnects > 2 or interrupted > 2:
            return f"{reconnects} signaling reconnects and {interrupted} rtms_interrupted for one loss"
        return ""

    _never(loop, for_s=6.0, what="reconnect loop")
    _keeps_flowing(sim, uuid, at)
    _end(sim, uuid)
    _at_most_one_signaling(sim)
    _assert_stored_once(sim, uuid, may_miss=_tail_before(sim, uuid, at))


def test_a_host_stop_ends_the_stream_and_is_not_reconnected(own_broker_base: SimEnvProcs) -> None:
    sim, env, procs = own_broker_base
    gateway = Proc.manage("gateway-stop", ["rtms_gateway", "--region", "eu-central"], env)
    procs.append(gateway)
    uuid, sid = _live_meeting(sim, "stop")
    sim.client.stop_stream(sid, stop_reason=1)
    at = _fault_seq(sim, uuid)
    eventually(
        lambda: RtmsStream.objects.get(meeting__zoom_uuid=uuid).state == "stopped",
        timeout=30,
        interval=0.3,
        what="stream stopped",
        tolerate=ANY_ERROR,
    )
    assert RtmsStream.objects.get(meeting__zoom_uuid=uuid).stop_reason == 1
    eventually(
        lambda: not RtmsStream.objects.get(meeting__zoom_uuid=uuid).lease_owner,
        timeout=15,
        interval=POLL_S,
        what="lease given back",
        tolerate=ANY_ERROR,
    )
    # A negative can only be watched for a while: longer than the gateway's poll (1 s), several reconnect
    # backoff caps (2 s) and a lease TTL (3 s), during which nobody may try to connect to the stream again.
    _never(
        lambda: [e for e in _connections(sim) if e["seq"] > at and e["action"] in ("opened", "refused")],
        for_s=6.0,
        what="a connection attempt after a host stop",
    )
    assert len(sim.client.get_meeting(uuid)["streams"]) == 1, "no new stream was started"
    assert RtmsStream.objects.filter(meeting__zoom_uuid=uuid).count() == 1
    assert gateway.alive()
    _at_most_one_signaling(sim)
    # Segments written just before the stop may still have been in flight when the stop closed the
    # sockets (the product reads until the close); everything earlier is stored.
    _assert_stored_once(sim, uuid, may_miss=_tail_before(sim, uuid, at))


# --- SIGTERM drain ------------------------------------------------------------------------------------
def test_sigterm_drains_flushes_and_releases_the_lease_for_the_next_gateway(
    own_broker_base: SimEnvProcs,
) -> None:
    sim, env, procs = own_broker_base
    first = Proc.manage("gateway-drain-1", ["rtms_gateway", "--region", "eu-central"], env)
    procs.append(first)
    uuid, _sid = _live_meeting(sim, "drain")
    stream = RtmsStream.objects.get(meeting__zoom_uuid=uuid)
    assert f":{first.popen.pid}:" in stream.lease_owner

    assert first.stop(timeout=10) == 0, "SIGTERM: a clean exit within 10 s"
    stopped_seq = max(e["seq"] for e in ledger(sim))
    first_connections = {e["connection"] for e in _opened(sim, "media")}
    before = [e for e in _delivered(sim, uuid) if e["connection"] in first_connections]
    assert len(before) >= 5
    stored = {s.text for s in _stored(EU_ALIAS, uuid)}
    missing = [e["text"] for e in before if e["text"] not in stored]
    # The drain closes the sockets and flushes the batch before exiting: what the first gateway read is
    # stored by the time it is gone. A segment zoomsim wrote in the last instant, after the product had
    # stopped reading for its close handshake, can be lost (at most the last one or two).
    assert set(missing) <= {e["text"] for e in before[-2:]}, f"not flushed on shutdown: {missing}"
    assert RtmsStream.objects.filter(pk=stream.pk, lease_owner="", lease_expires_at__lte=Now()).exists(), (
        "the lease is released on shutdown"
    )

    second = Proc.manage("gateway-drain-2", ["rtms_gateway", "--region", "eu-central"], env)
    procs.append(second)
    _taken_by(second, stream.pk)
    _keeps_flowing(sim, uuid, stopped_seq)
    _end(sim, uuid)
    _at_most_one_signaling(sim)
    _assert_stored_once(sim, uuid, may_miss=set(missing))


def test_a_gateway_killed_and_restarted_on_its_machine_takes_its_streams_back_before_their_leases_lapse(
    own_broker_base: SimEnvProcs,
) -> None:
    """A supervisor restarts a crashed gateway within a second; its streams' leases would hold them a whole
    TTL longer. The new process proves the old one dead (rtms/liveness.py: same machine, its pid
    gone) and claims them at once. A lease far longer than the test makes that the only way in time."""
    sim, env, procs = own_broker_base
    env = {**env, "STREAM_LEASE_TTL_SECONDS": "25"}
    first = Proc.manage("gateway-crash-1", ["rtms_gateway", "--region", "eu-central"], env)
    procs.append(first)
    uuid, _sid = _live_meeting(sim, "crash")
    stream = RtmsStream.objects.get(meeting__zoom_uuid=uuid)
    assert f":{first.popen.pid}:" in stream.lease_owner

    first.kill9()
    killed_seq = max(e["seq"] for e in ledger(sim))
    held_until = RtmsStream.objects.get(pk=stream.pk).lease_expires_at
    second = Proc.manage("gateway-crash-2", ["rtms_gateway", "--region", "eu-central"], env)
    procs.append(second)
    _taken_by(second, stream.pk)
    taken_at = RtmsStream.objects.filter(pk=stream.pk).annotate(now=Now()).values_list("now", flat=True)[0]
    assert held_until is not None and taken_at < held_until, "taken before the dead holder's lease lapsed"
    assert "gateway.dead_holders_lapsed" in second.log()
    _keeps_flowing(sim, uuid, killed_seq)
    _end(sim, uuid)
    _at_most_one_signaling(sim)
