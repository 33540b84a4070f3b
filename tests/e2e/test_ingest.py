"""Both channels into one inbox, with real processes: daphne, a Celery worker, the event subscriber and
zoomsim. Every event is delivered on both channels with random duplicates; then each channel alone."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator

import pytest

from rtms.models import InboundEvent, Meeting, RtmsStream
from rtms.zoom.stop_policy import is_retryable
from tests.e2e.harness import (
    ANY_ERROR,
    POLL_S,
    Proc,
    ledger,
    product_env,
    start_web,
    start_worker,
    stop_all,
    wait_subscribed,
)
from tests.eventually import eventually
from tests.support import sim_config
from zoomsim.testing import SimServer

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.timeout(420)]

QUEUES = ["control", "reconcile", "region.eu-central", "region.us-east", "region.ap-southeast"]


@pytest.fixture
def system(residency: dict[str, str]) -> Iterator[tuple[SimServer, list[Proc]]]:
    # Zoom's real 60 s connect window: at time scale 0.01 it would be 0.6 s, which a loaded two-core machine
    # misses now and then; zoomsim then drops the stream and the reconciler restarts it while the test
    # checks the end state. This test is about duplicates, not the connect window (tests/e2e/test_gateway*).
    # Likewise Zoom's real 90 s event-WebSocket heartbeat timeout: scaled it is 0.9 s, shorter than the fast
    # profile's 2 s heartbeat, so zoomsim would close the socket every 0.9 s and the WebSocket-only phase
    # would lose the events sent between two connections.
    scale = sim_config().time_scale
    with SimServer(
        sim_config(rtms_connect_window_s=60.0 / scale, ws_heartbeat_timeout_s=90.0 / scale)
    ) as sim:
        env = product_env(sim.base_url)
        procs: list[Proc] = []
        try:
            web, base = start_web(env)
            procs.append(web)
            sim.client.set_webhook_url(f"{base}/zoom/webhook")
            procs.append(start_worker(env, QUEUES))
            procs.append(Proc.manage("events", ["zoom_events"], env))
            wait_subscribed(sim)
            yield sim, procs
        finally:
            stop_all(procs)


def _start_meetings(sim: SimServer, n: int, rng: random.Random, domains: list[str]) -> dict[str, str]:
    """meeting uuid -> expected region code."""
    expected = {}
    for i in range(n):
        code, domain = domains[i % len(domains)].split("|")
        created = sim.client.create_meeting(f"host{i}-{rng.randrange(10**6)}@{domain}", rtms="api")
        expected[created["meeting_uuid"]] = code
    return expected


def _sim_streams(sim: SimServer, uuids: list[str]) -> dict[str, str]:
    """rtms_stream_id -> meeting uuid, as zoomsim knows them."""
    streams = {}
    for uuid in uuids:
        for stream in sim.client.get_meeting(uuid)["streams"]:
            streams[stream["rtms_stream_id"]] = uuid
    return streams


def _captured(sim: SimServer, expected: dict[str, str]) -> bool:
    meetings = {
        m.zoom_uuid: m for m in Meeting.objects.filter(zoom_uuid__in=list(expected)).select_related("region")
    }
    if len(meetings) != len(expected) or any(m.region is None for m in meetings.values()):
        return False
    sim_streams = _sim_streams(sim, list(expected))
    if len(sim_streams) < len(expected):
        return False
    ours = set(
        RtmsStream.objects.filter(rtms_stream_id__in=list(sim_streams)).values_list(
            "rtms_stream_id", flat=True
        )
    )
    return ours == set(sim_streams)


def _start_calls(sim: SimServer) -> Counter[str]:
    """Start calls per meeting uuid, except restarts after a retryable stop (a stream Zoom dropped, say
    because no client connected in time under load): the reconciler rightly asks for those at its next run
    (issue #18). What must never happen is a second start for one meeting without such a stop."""
    calls: Counter[str] = Counter()
    retryable_stop: dict[str, bool] = {}
    for entry in sorted(ledger(sim), key=lambda e: int(e["seq"])):
        uuid = str(entry.get("meeting_uuid"))
        if entry.get("kind") == "event.emitted" and entry.get("event") == "meeting.rtms_stopped":
            retryable_stop[uuid] = is_retryable(entry["payload"].get("stop_reason"))
        elif (
            entry.get("kind") == "rest.call"
            and str(entry.get("path", "")).endswith("/rtms_app/status")
            and entry.get("status") == 204
            and entry.get("action") == "start"
            and not retryable_stop.pop(uuid, False)
        ):
            calls[uuid] += 1
    return calls


def _assert_exactly_once(sim: SimServer, expected: dict[str, str]) -> None:
    meetings = Meeting.objects.filter(zoom_uuid__in=list(expected)).select_related("region")
    assert {m.zoom_uuid: m.region.code for m in meetings} == expected  # type: ignore[union-attr]
    sim_streams = _sim_streams(sim, list(expected))
    ours = Counter(
        RtmsStream.objects.filter(rtms_stream_id__in=list(sim_streams)).values_list(
            "rtms_stream_id", flat=True
        )
    )
    assert set(ours) == set(sim_streams) and set(ours.values()) == {1}
    for stream in RtmsStream.objects.filter(rtms_stream_id__in=list(sim_streams)).select_related(
        "meeting", "region"
    ):
        assert stream.meeting.zoom_uuid == sim_streams[stream.rtms_stream_id]
        assert stream.region == stream.meeting.region
    calls = _start_calls(sim)
    for meeting in meetings:
        assert calls[meeting.zoom_uuid] == 1, (
            f"meeting {meeting.pk} got {calls[meeting.zoom_uuid]} start calls"
        )


def test_thirty_meetings_over_both_channels_with_duplicates_take_effect_exactly_once(
    system: tuple[SimServer, list[Proc]], residency: dict[str, str]
) -> None:
    sim, procs = system
    rng = random.Random(20261122)
    domains = [f"{code}|{domain}" for code, domain in residency.items()]
    # Random duplicates on both channels: Zoom's retries and our own reconnects make these routine.
    sim.client.add_event_fault("*", "webhook", "duplicate", count=2, times=rng.randint(15, 30))
    sim.client.add_event_fault("*", "ws", "duplicate", count=1, times=rng.randint(15, 30))
    expected = _start_meetings(sim, 30, rng, domains)
    eventually(
        lambda: _captured(sim, expected),
        timeout=180,
        interval=0.5,
        what="30 meetings captured",
        tolerate=ANY_ERROR,
    )
    _assert_exactly_once(sim, expected)
    both = InboundEvent.objects.filter(webhook_received_at__isnull=False, websocket_received_at__isnull=False)
    assert both.exists(), "events should have arrived on both channels"
    assert InboundEvent.objects.filter(delivery_count__gt=2).exists(), (
        "the duplicate faults should have fired"
    )
    assert all(p.alive() for p in procs), [p.name for p in procs if not p.alive()]


def test_either_channel_alone_is_enough(
    system: tuple[SimServer, list[Proc]], residency: dict[str, str]
) -> None:
    sim, _ = system
    rng = random.Random(7)
    domains = [f"{code}|{domain}" for code, domain in residency.items()]

    # The event WebSocket is down: the webhook alone brings everything.
    sim.client.ws_down(100_000)  # simulated seconds; cleared below
    only_webhook = _start_meetings(sim, 6, rng, domains)
    eventually(
        lambda: _captured(sim, only_webhook),
        timeout=120,
        interval=0.5,
        what="webhook-only meetings",
        tolerate=ANY_ERROR,
    )
    _assert_exactly_once(sim, only_webhook)
    rows = InboundEvent.objects.filter(meeting__zoom_uuid__in=list(only_webhook))
    assert rows.exists() and not rows.filter(websocket_received_at__isnull=False).exists()

    # Webhooks fail, the WebSocket is back: it alone brings everything.
    sim.client.clear_faults()
    sim.client.add_event_fault("*", "webhook", "drop")
    before = len(ledger(sim, kind="ws.connected"))
    eventually(
        lambda: len(ledger(sim, kind="ws.connected")) > before,
        timeout=60,
        interval=POLL_S,
        what="reconnect",
        tolerate=ANY_ERROR,
    )
    only_ws = _start_meetings(sim, 6, rng, domains)
    eventually(
        lambda: _captured(sim, only_ws),
        timeout=120,
        interval=0.5,
        what="websocket-only meetings",
        tolerate=ANY_ERROR,
    )
    _assert_exactly_once(sim, only_ws)
    rows = InboundEvent.objects.filter(meeting__zoom_uuid__in=list(only_ws))
    assert rows.exists() and not rows.filter(webhook_received_at__isnull=False).exists()
