#!/usr/bin/env python
"""Chaos benchmark: a bad day in a few minutes. Many meetings across three regions while events are lost
and duplicated, sockets die, Zoom fails over and rate-limits, and product processes are killed.

Every product process runs as deployed (daphne, a Celery worker, beat, ``zoom_events``, one ``rtms_gateway``
per region) on the fast timing profile, against zoomsim in its own process at time scale 0.2. Each region
stores its content in a database of its own. By default 300 meetings over 15 simulated minutes (3 real):
10 % of them are not RTMS-capable, 30 % are auto-started by Zoom, the rest started through the API. Each
meeting lasts 135 to 270 simulated seconds (at most the whole run) and speaks one transcript line every 5.

Faults, all through zoomsim's controls and drawn from ``--seed``:
- each event of each meeting (started, rtms_started, rtms_interrupted, rtms_stopped, ended), and again each
  later copy of it up to ``EMISSIONS``, is dropped on the webhook with probability 10 %, on the WebSocket
  with 10 %, on both with 5 %, and duplicated with 20 %;
- live streams have their signaling socket killed, a media socket killed, or fail over to a new server;
- the event WebSocket goes down for a moment, twice; ``/v2/metrics/meetings`` answers 429 in bursts;
- the EU gateway, the event subscriber and the worker are killed with SIGKILL and started again half a
  second later, as a supervisor would.

Afterwards (every meeting ended in Zoom and the product settled, or ``--settle-timeout``), from zoomsim's
ledger and the product's databases it prints the figures below, each against its target (issue #21).

Exit status: 0 measured (targets met or not: the verdicts say), 1 the benchmark broke, 2 bad arguments.
docs/benchmarks.md has the figures of recorded runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.common import (  # noqa: E402
    CREDENTIALS,
    BenchmarkBroke,
    Proc,
    check_alive,
    database_url,
    django_setup,
    free_port,
    migrate_all,
    positive,
    production_env,
    redis_flush,
    reset_database,
    verdict,
    wait_for,
    wait_web_up,
)

DEFAULT_DB_PREFIX = "rtms_bench_chaos"
# Other benchmarks use 9, 11, 12 and 14, the test suite 15 and 13.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/10"
SIM_SCALE = 0.2  # Zoom's minute is 12 s, as the fast profile assumes
REGIONS = {
    "eu-central": ("eu", "eu.chaos.example.com"),
    "us-east": ("us", "us.chaos.example.com"),
    "ap-southeast": ("ap", "ap.chaos.example.com"),
}
EVENTS = (
    "meeting.started",
    "meeting.rtms_started",
    "meeting.rtms_interrupted",
    "meeting.rtms_stopped",
    "meeting.ended",
)
LINE_EVERY_MS = 5000  # simulated: one line a real second
# Simulated seconds, whatever the length of the run: a shorter run has fewer meetings at once, not shorter
# ones, so that a fault costs a meeting the same share of its speech in any run.
MEETING_LENGTH_S = (135.0, 270.0)
# A killed process is started again this long after, as a supervisor would (systemd's RestartSec defaults to
# 100 ms; Docker and Kubernetes restart a crashed container at once the first time).
RESTART_AFTER_S = 0.5


@dataclass(frozen=True)
class Config:
    meetings: int = 300
    minutes: float = 15.0  # simulated
    seed: int = 21
    redis_url: str = DEFAULT_REDIS_URL
    db_prefix: str = DEFAULT_DB_PREFIX
    settle_timeout_s: float = 180.0
    kills: bool = True

    @property
    def duration_s(self) -> float:
        """Simulated seconds over which meetings run."""
        return self.minutes * 60


@dataclass
class Figures:
    meetings: int = 0
    capturable: int = 0
    captured: int = 0
    not_captured: list[str] = field(default_factory=list)
    delivered: int = 0  # segments zoomsim wrote to a connected client
    delivered_stored: int = 0
    spoken_with_stream: int = 0  # segments spoken while the meeting had a stream
    spoken_stored: int = 0
    duplicates: int = 0
    wrong_region: int = 0
    max_signaling: int = 0
    left_live: int = 0
    events_pending: int = 0
    server_errors: int = 0  # webhook answers >= 500
    faults: Counter[str] = field(default_factory=Counter)
    event_faults: Counter[str] = field(default_factory=Counter)
    misses: dict[str, list[str]] = field(default_factory=dict)  # what happened to each meeting not captured
    unstored: Counter[str] = field(default_factory=Counter)  # spoken with a stream, not stored: when
    settled_s: float = 0.0

    def checks(self) -> list[tuple[str, str, str, bool]]:
        """(figure, value, target, met) for every target of the issue."""
        delivered = _ratio(self.delivered_stored, self.delivered)
        spoken = _ratio(self.spoken_stored, self.spoken_with_stream)
        return [
            (
                "capturable meetings captured",
                f"{self.captured}/{self.capturable}",
                "all",
                self.captured == self.capturable,
            ),
            (
                "segments sent to a connected client, stored",
                f"{delivered:.2%}",
                ">= 99.5 %",
                delivered >= 0.995,
            ),
            ("segments spoken while a stream existed, stored", f"{spoken:.2%}", ">= 98 %", spoken >= 0.98),
            ("segments stored twice", str(self.duplicates), "0", self.duplicates == 0),
            ("rows in the wrong region", str(self.wrong_region), "0", self.wrong_region == 0),
            (
                "most signaling connections of one stream",
                str(self.max_signaling),
                "<= 1",
                self.max_signaling <= 1,
            ),
            ("meetings left live after they ended", str(self.left_live), "0", self.left_live == 0),
            ("events left pending", str(self.events_pending), "0", self.events_pending == 0),
            ("5xx answers to webhooks", str(self.server_errors), "0", self.server_errors == 0),
        ]


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


# --- The day's plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedMeeting:
    uuid: str
    region: str
    rtms: str  # auto | api | none
    start_s: float
    end_s: float


def plan_meetings(config: Config, rng: random.Random) -> tuple[list[PlannedMeeting], dict[str, Any]]:
    """The meetings and zoomsim's scenario for them: start and end offsets in simulated seconds."""
    duration = config.duration_s
    planned: list[PlannedMeeting] = []
    specs: list[dict[str, Any]] = []
    for i in range(config.meetings):
        region = list(REGIONS)[i % len(REGIONS)]
        _, domain = REGIONS[region]
        length = min(duration, rng.uniform(*MEETING_LENGTH_S))
        start = rng.uniform(0.0, duration - length)
        draw = rng.random()
        rtms = "none" if draw < 0.10 else "auto" if draw < 0.40 else "api"
        uuid = f"chaos{config.seed}-{i:04d}=="
        lines = int(length * 1000 / LINE_EVERY_MS) + 2
        planned.append(PlannedMeeting(uuid, region, rtms, start, start + length))
        specs.append(
            {
                "meeting_uuid": uuid,
                "host_email": f"host{i}@{domain}",
                "topic": f"chaos {i}",
                "rtms": rtms,
                "start_offset_s": start,
                "end_offset_s": start + length,
                "transcript": [
                    {"speaker": f"Speaker {j % 3}", "text": f"m{i} line {j}"} for j in range(lines)
                ],
                "segment_interval_ms": LINE_EVERY_MS,
            }
        )
    return planned, {"meetings": specs}


# Each of the first EMISSIONS copies of an event that Zoom sends for a meeting (a restart sends rtms_started
# again, say) draws its fault afresh; later copies are delivered.
EMISSIONS = 2
# (webhook action, WebSocket action) per draw: 10 % lost on the webhook, 10 % on the WebSocket, 5 % on both,
# 20 % duplicated, the rest delivered.
FAULT_DRAWS = (
    (0.10, ("drop", "deliver")),
    (0.20, ("deliver", "drop")),
    (0.25, ("drop", "drop")),
    (0.45, ("duplicate", "duplicate")),
    (1.00, ("deliver", "deliver")),
)


def _draw(value: float) -> tuple[str, str]:
    """The (webhook, WebSocket) actions of one copy, for a uniform draw in [0, 1)."""
    return next(pair for limit, pair in FAULT_DRAWS if value < limit)


def plan_event_faults(meetings: list[PlannedMeeting], rng: random.Random) -> list[dict[str, Any]]:
    """zoomsim event-fault rules, one per channel and copy (``times`` 1): zoomsim applies the most recently
    added matching rule, so each meeting's and event's rules are added last copy first."""
    faults: list[dict[str, Any]] = []
    for m in meetings:
        for event in EVENTS:
            draws = [_draw(rng.random()) for _ in range(EMISSIONS)]
            for index, channel in enumerate(("webhook", "ws")):
                actions = [pair[index] for pair in draws]
                while actions and actions[-1] == "deliver":
                    actions.pop()  # nothing after it to keep in order: no rule needed
                for action in reversed(actions):
                    rule: dict[str, Any] = {"event": event, "channel": channel, "action": action, "times": 1}
                    if action == "duplicate":
                        rule["count"] = 2
                    faults.append({**rule, "meeting_uuid": m.uuid})
    return faults


# --- Running it --------------------------------------------------------------------------------------


class System:
    """zoomsim and the product's processes, with kill-and-restart for the faults."""

    def __init__(self, config: Config, logs: Path) -> None:
        from zoomsim.testing import SimProcess

        self.config = config
        self.logs = logs
        base = production_env(**CREDENTIALS)
        sim_env = {
            **base,
            "ZOOMSIM_TIME_SCALE": str(SIM_SCALE),
            "ZOOMSIM_LOG_LEVEL": "WARNING",
            "ZOOMSIM_RTMS_CONCURRENCY_CAP": "5000",
        }
        self.sim = SimProcess(["--log-level", "WARNING"], env=sim_env, log_path=str(logs / "zoomsim.log"))
        self.procs: dict[str, Proc] = {}
        self.argv: dict[str, list[str]] = {}
        self.env: dict[str, str] = {}
        self.kills: Counter[str] = Counter()

    def databases(self) -> dict[str, str]:
        prefix = self.config.db_prefix
        return {
            "default": database_url(prefix),
            **{code: database_url(f"{prefix}_{short}") for code, (short, _) in REGIONS.items()},
        }

    def start(self) -> None:
        dbs = self.databases()
        for url in dbs.values():
            reset_database(url.rsplit("/", 1)[1])
        redis_flush(self.config.redis_url)
        self.sim.start(timeout=30)
        sim_url = str(self.sim.base_url)
        region_dbs = {code: url for code, url in dbs.items() if code != "default"}
        self.env = production_env(
            **CREDENTIALS,
            DJANGO_SETTINGS_MODULE="controlplane.settings",
            TIMING_PROFILE="fast",
            DATABASE_URL=dbs["default"],
            REGION_DATABASES=json.dumps({**region_dbs, "*": "default"}),
            REDIS_URL=self.config.redis_url,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            ZOOM_API_BASE_URL=f"{sim_url}/v2",
            ZOOM_OAUTH_TOKEN_URL=f"{sim_url}/oauth/token",
            ZOOM_EVENTS_WS_URL=sim_url.replace("http", "ws", 1) + "/ws",
        )
        migrate_all(self.env)
        django_setup(self.env)
        from regions.queues import worker_queues  # importable once Django is set up

        _configure()
        py = sys.executable
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        celery = [py, "-m", "celery", "-A", "controlplane"]
        self.argv = {
            "web": [py, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "controlplane.asgi:application"],
            "worker": [
                *celery, "worker", "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "-c", "4",
                "-Q", ",".join(worker_queues(list(REGIONS), include_central=True)),
                "-n", "chaos@%h",
            ],
            "beat": [*celery, "beat", "--loglevel", "WARNING", "-s", str(self.logs / "celerybeat-schedule")],
            "events": [py, "manage.py", "zoom_events"],
            **{f"gateway-{code}": [py, "manage.py", "rtms_gateway", "--region", code] for code in REGIONS},
        }  # fmt: skip
        for name in self.argv:
            self._spawn(name)
        wait_web_up(self.base, list(self.procs.values()))
        self.sim.client.set_webhook_url(f"{self.base}/zoom/webhook")
        wait_for(
            lambda: self.sim.client.ledger(kind="ws.connected"),
            timeout=60,
            interval=0.5,
            what="event subscription connected",
        )

    def _spawn(self, name: str) -> None:
        generation = self.kills[name]
        self.procs[name] = Proc(f"{name}-{generation}", self.argv[name], self.env, self.logs)

    def kill_and_restart(self, name: str, down_s: float = RESTART_AFTER_S) -> None:
        proc = self.procs[name]
        if proc.alive():
            os.killpg(proc.popen.pid, signal.SIGKILL)
            proc.popen.wait(timeout=10)
        self.kills[name] += 1
        time.sleep(down_s)
        self._spawn(name)

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()
        self.sim.stop()
        redis_flush(self.config.redis_url)


def _configure() -> None:
    from regions.models import Region, ResidencyRule, RuleField
    from rtms.models import ZoomAccount
    from rtms.models.accounts import AccountMode

    for position, (code, (_, domain)) in enumerate(REGIONS.items(), start=1):
        region = Region.objects.get(code=code)
        ResidencyRule.objects.update_or_create(
            position=position,
            tier="staff",
            defaults={"field": RuleField.HOST_EMAIL_DOMAIN, "value": domain, "region": region},
        )
    ZoomAccount.objects.update_or_create(
        zoom_account_id=CREDENTIALS["ZOOM_ACCOUNT_ID"],
        defaults={"mode": AccountMode.API_START, "active": True},
    )


def _live_streams(sim: Any) -> list[str]:
    ids = []
    for m in sim.client.list_meetings(state="live"):
        for stream in m.get("streams") or []:
            if stream.get("state") in ("active", "started", "connected", None):
                ids.append(str(stream["rtms_stream_id"]))
    return ids


def fault_schedule(config: Config, rng: random.Random) -> list[tuple[float, str]]:
    """(real seconds after the start, fault) for the whole day, in order."""
    real = config.duration_s * SIM_SCALE
    faults: list[tuple[float, str]] = []
    for _ in range(max(3, int(config.meetings / 10))):
        faults.append(
            (rng.uniform(0.1, 0.9) * real, rng.choice(["kill_signaling", "kill_media", "failover"]))
        )
    faults += [(0.2 * real, "ws_down"), (0.6 * real, "ws_down")]
    faults += [(0.35 * real, "metrics_429"), (0.75 * real, "metrics_429")]
    if config.kills:
        faults += [
            (0.3 * real, "kill:gateway-eu-central"),
            (0.5 * real, "kill:events"),
            (0.7 * real, "kill:worker"),
        ]
    return sorted(faults)


def apply_fault(system: System, fault: str, rng: random.Random, figures: Figures) -> None:
    client = system.sim.client
    if fault.startswith("kill:"):
        system.kill_and_restart(fault.removeprefix("kill:"))
    elif fault == "ws_down":
        client.ws_down(10.0)  # simulated: 2 s real
    elif fault == "metrics_429":
        client.rest_fault(429, path="/v2/metrics/meetings", times=3)
    else:
        streams = _live_streams(system.sim)
        if not streams:
            return
        sid = rng.choice(streams)
        try:
            if fault == "kill_signaling":
                client.kill_signaling(sid)
            elif fault == "kill_media":
                client.kill_media(sid)
            else:
                client.failover(sid)
        except Exception:  # the stream ended meanwhile: nothing to fault
            return
    figures.faults[fault] += 1


def run(config: Config, *, progress: Callable[[str], None] = lambda _: None) -> Figures:
    rng = random.Random(config.seed)
    meetings, scenario = plan_meetings(config, rng)
    event_faults = plan_event_faults(meetings, rng)
    schedule = fault_schedule(config, rng)
    figures = Figures(meetings=len(meetings))
    with tempfile.TemporaryDirectory(prefix="bench-chaos-") as tmp:
        system = System(config, Path(tmp))
        try:
            system.start()
            for spec in event_faults:
                system.sim.client.add_event_fault(
                    spec["event"], spec["channel"], spec["action"], count=spec.get("count"),
                    times=spec["times"], meeting_uuid=spec["meeting_uuid"],
                )  # fmt: skip
                if spec["action"] != "deliver":
                    figures.event_faults[f"{spec['action']}:{spec['channel']}"] += 1
            progress(
                f"{len(meetings)} meetings, {len(event_faults)} event faults, {len(schedule)} other faults"
            )
            started = time.monotonic()
            system.sim.client.load_scenario(scenario)
            for at, fault in schedule:
                time.sleep(max(0.0, at - (time.monotonic() - started)))
                check_alive(list(system.procs.values()))
                apply_fault(system, fault, rng, figures)
                progress(f"{time.monotonic() - started:6.1f} s  {fault}")
            end_real = config.duration_s * SIM_SCALE
            time.sleep(max(0.0, end_real - (time.monotonic() - started)))
            settle_from = time.monotonic()
            _settle(system, meetings, config.settle_timeout_s)
            figures.settled_s = time.monotonic() - settle_from
            progress(f"settled {figures.settled_s:.1f} s after the last meeting's end")
            _measure(system, meetings, figures)
        finally:
            system.stop()
    return figures


def _settled(system: System, uuids: list[str]) -> bool:
    from rtms.models import InboundEvent, Meeting, RtmsStream

    if any(m["state"] == "live" for m in system.sim.client.list_meetings(state="live")):
        return False
    live = Meeting.objects.filter(zoom_uuid__in=uuids, state="live").exists()
    active = RtmsStream.objects.filter(meeting__zoom_uuid__in=uuids).exclude(state__in=["stopped", "failed"])
    pending = InboundEvent.objects.filter(status="pending").exists()
    return not live and not active.exists() and not pending


def _settle(system: System, meetings: list[PlannedMeeting], timeout_s: float) -> None:
    uuids = [m.uuid for m in meetings]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _settled(system, uuids):
            return
        time.sleep(1.0)


_STORY_KINDS = (
    "meeting.",
    "event.emitted",
    "webhook.",
    "ws.dropped",
    "fault.applied",
    "rtms.action",
    "rest.call",
)


def _phase(sent: dict[str, Any], first_ready: dict[str, int]) -> str:
    """When a line spoken while the meeting had a stream was not stored: the stream was never connected, it
    was spoken before the first connection, or while a connection was being restored (or in flight)."""
    ready_at = first_ready.get(str(sent.get("rtms_stream_id")))
    if ready_at is None:
        return "stream never connected"
    if int(sent["seq"]) < ready_at:
        return "before the stream's first connection"
    return "after it (reconnecting, or lost in flight)"


def _story(system: System, uuid: str) -> list[str]:
    """One line per thing zoomsim and the product did with a meeting, in time order: what a person needs to
    see why it was not captured."""
    from reconciler.models import ReconcileRun
    from rtms.models import StreamTransition
    from rtms.models.audit import AuditLog

    # (ISO time to the millisecond, what): zoomsim's ledger and the product's rows both read UTC.
    lines: list[tuple[str, str]] = []
    for e in system.sim.client.ledger(meeting_uuid=uuid):
        if not e["kind"].startswith(_STORY_KINDS):
            continue
        detail = {
            k: e[k]
            for k in ("event", "channel", "outcome", "action", "status", "reason", "stop_reason")
            if k in e
        }
        lines.append((e["at"][:23], f"zoomsim {e['kind']} {json.dumps(detail, sort_keys=True)}"))
    for at, stream, frm, to, cause, reason in StreamTransition.objects.filter(
        stream__meeting__zoom_uuid=uuid
    ).values_list("at", "stream_id", "from_state", "to_state", "cause", "stop_reason"):
        lines.append((at.isoformat()[:23], f"product stream {stream} {frm}->{to} {cause} {reason or ''}"))
    for at, action, detail in AuditLog.objects.filter(
        object_type="meeting", object_id__in=_meeting_ids(uuid)
    ).values_list("at", "action", "detail"):
        lines.append((at.isoformat()[:23], f"product audit {action} {json.dumps(detail, sort_keys=True)}"))
    if lines:
        # The reconcile runs of the meeting's lifetime: a repair that never came shows as a gap here.
        first, last = min(lines)[0], max(lines)[0]
        for at, run_id, status, repairs in ReconcileRun.objects.values_list(
            "started_at", "pk", "status", "repairs"
        ):
            if first <= at.isoformat()[:23] <= last:
                lines.append(
                    (at.isoformat()[:23], f"product reconcile run {run_id} {status} {json.dumps(repairs)}")
                )
    return [f"{at[11:]} {what}" for at, what in sorted(lines)]


def _meeting_ids(uuid: str) -> list[str]:
    from rtms.models import Meeting

    return [str(pk) for pk in Meeting.objects.filter(zoom_uuid=uuid).values_list("pk", flat=True)]


def _measure(system: System, planned: list[PlannedMeeting], figures: Figures) -> None:
    from django.db.models import Count

    from regions.storage import content_alias
    from rtms.models import InboundEvent, Meeting, StreamTransition, TranscriptSegment

    ledger = system.sim.client.ledger
    by_uuid = {m.uuid: m for m in planned}
    meetings = {
        m.zoom_uuid: m for m in Meeting.objects.select_related("region").filter(zoom_uuid__in=by_uuid)
    }
    captured_ids = set(
        StreamTransition.objects.filter(
            stream__meeting__zoom_uuid__in=by_uuid, to_state="connected"
        ).values_list("stream__meeting__zoom_uuid", flat=True)
    )
    capturable = [m for m in planned if m.rtms != "none"]
    figures.capturable = len(capturable)
    figures.captured = sum(1 for m in capturable if m.uuid in captured_ids)
    figures.not_captured = [m.uuid for m in capturable if m.uuid not in captured_ids]
    for uuid in figures.not_captured:
        figures.misses[uuid] = _story(system, uuid)

    stored: set[tuple[str, str]] = set()
    pk_to_uuid = {m.pk: uuid for uuid, m in meetings.items()}
    for code in REGIONS:
        rows = TranscriptSegment.objects.using(content_alias(code)).values_list(
            "meeting_id", "region_code", "text"
        )
        for meeting_pk, region_code, text in rows:
            uuid = pk_to_uuid.get(meeting_pk, "")
            region = meetings[uuid].region if uuid else None
            owner = region.code if region is not None else None
            if region_code != code or owner != code or by_uuid[uuid].region != code:
                figures.wrong_region += 1
            stored.add((uuid, text))
        figures.duplicates += (
            TranscriptSegment.objects.using(content_alias(code))
            .values("meeting_id", "text")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .count()
        )
    figures.wrong_region += sum(
        1 for uuid, m in meetings.items() if m.region is not None and m.region.code != by_uuid[uuid].region
    )
    capturable_uuids = {m.uuid for m in capturable}
    first_ready: dict[str, int] = {}
    for ready in ledger(kind="rtms.ready"):
        first_ready.setdefault(str(ready.get("rtms_stream_id")), int(ready["seq"]))
    for sent in ledger(kind="rtms.segment_sent"):
        sent_uuid = str(sent.get("meeting_uuid") or "")
        if sent_uuid not in capturable_uuids:
            continue
        key = (sent_uuid, str(sent.get("text")))
        if sent.get("rtms_stream_id"):
            figures.spoken_with_stream += 1
            figures.spoken_stored += key in stored
            if key not in stored:
                figures.unstored[_phase(sent, first_ready)] += 1
        if sent.get("delivered"):
            figures.delivered += 1
            figures.delivered_stored += key in stored
    figures.max_signaling = max(
        (int(e.get("signaling_open") or 0) for e in ledger(kind="rtms.connection")), default=0
    )
    ended = {m["meeting_uuid"] for m in system.sim.client.list_meetings() if m.get("state") == "ended"}
    figures.left_live = sum(1 for uuid, m in meetings.items() if m.state == "live" and uuid in ended)
    figures.events_pending = InboundEvent.objects.filter(status="pending").count()
    figures.server_errors = sum(1 for a in ledger(kind="webhook.attempt") if int(a.get("status") or 0) >= 500)


# --- Report ------------------------------------------------------------------------------------------


def report(config: Config, figures: Figures) -> None:
    real_s = config.duration_s * SIM_SCALE
    print(
        f"{figures.meetings} meetings over {config.minutes:g} simulated minutes ({real_s:g} s real), "
        f"3 regions, seed {config.seed}; zoomsim time scale {SIM_SCALE:g}, product TIMING_PROFILE=fast"
    )
    print(f"event faults: {dict(sorted(figures.event_faults.items()))}")
    print(f"other faults: {dict(sorted(figures.faults.items()))}")
    print(f"settled {figures.settled_s:.1f} s after the last meeting ended")
    print()
    width = max(len(name) for name, *_ in figures.checks())
    for name, value, target, met in figures.checks():
        print(f"  {name:<{width}}  {value:>10}  target {target:<10} {verdict(met)}")
    print(
        f"\n  segments: {figures.delivered} sent to a connected client ({figures.delivered_stored} stored), "
        f"{figures.spoken_with_stream} spoken while a stream existed ({figures.spoken_stored} stored)"
    )
    for phase, count in figures.unstored.most_common():
        print(f"    not stored, {phase}: {count}")
    if figures.not_captured:
        print(f"  not captured: {figures.not_captured[:10]}")
    for uuid, story in list(figures.misses.items())[:3]:
        print(f"\n  {uuid}, what happened:")
        for line in story:
            print(f"    {line}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "A bad day in a few minutes: meetings across three regions under lost and duplicated events, "
            "socket kills, failovers, 429s and killed processes (real processes, zoomsim, fast profile). "
            f"Recreates the databases {DEFAULT_DB_PREFIX}* and flushes the Redis database given."
        ),
        epilog="Exit status: 0 measured, 1 the benchmark broke, 2 bad arguments.",
    )
    parser.add_argument("--meetings", type=int, default=300, help="default 300")
    parser.add_argument("--minutes", type=positive, default=15.0, help="simulated minutes (default 15)")
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument(
        "--redis-url", default=DEFAULT_REDIS_URL, help=f"flushed (default {DEFAULT_REDIS_URL})"
    )
    parser.add_argument("--settle-timeout", type=positive, default=180.0, help="seconds (default 180)")
    parser.add_argument("--no-kills", action="store_true", help="kill no process")
    parser.add_argument(
        "--db-prefix",
        default=DEFAULT_DB_PREFIX,
        help=f"databases recreated: <prefix> and <prefix>_eu/_us/_ap (default {DEFAULT_DB_PREFIX})",
    )
    parser.add_argument("--json", type=Path, help="also write the figures and verdicts to this file")
    args = parser.parse_args(argv)
    if args.meetings < 3:
        parser.error("--meetings must be at least 3 (one per region)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM stops the processes it started too (they run in sessions of their own).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    config = Config(
        meetings=args.meetings,
        minutes=args.minutes,
        seed=args.seed,
        redis_url=args.redis_url,
        settle_timeout_s=args.settle_timeout,
        kills=not args.no_kills,
        db_prefix=args.db_prefix,
    )
    try:
        figures = run(config, progress=lambda line: print(f"  {line}", file=sys.stderr, flush=True))
    except BenchmarkBroke as exc:
        print(f"BENCHMARK BROKE: {exc}", file=sys.stderr)
        return 1
    report(config, figures)
    if args.json is not None:
        checks = [{"figure": n, "value": v, "target": t, "met": m} for n, v, t, m in figures.checks()]
        body = {"checks": checks, "faults": dict(figures.faults), "not_captured": figures.misses}
        args.json.write_text(json.dumps(body, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
