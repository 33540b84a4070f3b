#!/usr/bin/env python
"""Recovery benchmark: K live meetings whose starts were all lost, found and captured by the reconciler.

Every product process runs as deployed (daphne, a Celery worker for the events and one for the ``reconcile``
queue as docs/deploy.md advises, beat, ``zoom_events``, one ``rtms_gateway --region eu-central``) on the fast
timing profile, against zoomsim in its own process. zoomsim drops every ``meeting.started`` on both channels,
so for each K (default 10, 100, 1000, one after the other) the K meetings it creates reach the product only
through ``GET /v2/metrics/meetings?type=live``: the reconciler must list them, create and route them (a
residency rule on the hosts' e-mail domain sends all of them to eu-central) and start RTMS (``PATCH
/v2/live_meetings/{id}/rtms_app/status``); the gateway then connects the announced streams. The meetings are
silent (no transcript, no audio capture) so that media load does not dominate.

zoomsim runs at time scale 0.2, the fast profile's companion (as in tests/e2e): Zoom's minute is 12 s, the
length of the product's fast-profile budget window. What races the product's own speed is kept at Zoom's
real value: the per-second limits of the REST calls, the 60 s RTMS connect window, the 10 s keep-alive and
the 1 s from a start's 204 to its ``rtms_started``.

Per K, measured from the moment the last of the K meetings was created (their starts already lost): the time
until every start call was answered 204 (zoomsim's ledger), the time until every meeting had a ``connected``
stream (the database), the reconcile runs and the Zoom calls by kind used until then, and the lower bound
that the page size, the product's budget and Zoom's rate limits set.

Exit status: 0 measured, 1 the benchmark broke, 2 bad arguments. docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.common import (  # noqa: E402
    CREDENTIALS,
    REGION,
    BenchmarkBroke,
    Proc,
    check_alive,
    configure_product,
    database_url,
    django_setup,
    fmt,
    free_port,
    migrate_all,
    parse_at,
    positive,
    production_env,
    redis_flush,
    reset_database,
    wait_for,
    wait_web_up,
)

DB_NAME = "rtms_bench_recovery"
DATABASE_URL = database_url(DB_NAME)
# Other benchmarks use 9, 12 and 14, the test suite 15 and 13 (unless TEST_RUN_ID runs pass their own).
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"
HOST_DOMAIN = "recovery.bench.example.com"
APP_NAME = "rtms-bench-recovery"

# zoomsim: Zoom's minute compressed 5x like the product's fast profile; real-time values for what races
# the product (a scaled setting is multiplied by the time scale, so these are real value / scale).
SIM_SCALE = 0.2
ZOOM_STATUS_PER_S = 60  # rtms_app/status, Medium
ZOOM_MEETING_GET_PER_S = 30  # GET /v2/meetings/{id}, Light
ZOOM_USER_GET_PER_S = 20  # GET /v2/users/{id}, Medium
ZOOM_METRICS_PER_MINUTE = 20  # /metrics/meetings, Resource-intensive (zoomsim's default)
EVENT_DELAY_S = 1.0  # 204 on rtms_app/status -> meeting.rtms_started
CONNECT_WINDOW_S = 60.0
KEEPALIVE_S = 10.0

PAGE_SIZE = 300  # reconciler/observe.py
# Log lines (WARNING and above) that explain a slow or failed capture.
TELLING_LOG_LINES = (
    "Soft time limit",
    "Hard time limit",
    "gateway.lease_lost",
    "gateway.renew_failed",
    "rtms.media.connect_failed",
    "worker.stalled",
)
RUN_TIME_LIMIT = timedelta(seconds=120)  # reconciler.reconcile_account's hard time limit
START_PATH = re.compile(r"^/v2/live_meetings/(\d+)/rtms_app/status$")

# --- Small helpers ---------------------------------------------------------------------------------


def path_kind(method: str, path: str) -> str:
    """A REST path with its ids replaced, e.g. ``PATCH /v2/live_meetings/{id}/rtms_app/status``."""
    if path.startswith("/v2/metrics/meetings"):
        return f"{method} /v2/metrics/meetings"
    for prefix in ("/v2/live_meetings/", "/v2/meetings/", "/v2/users/"):
        if path.startswith(prefix):
            rest = path[len(prefix) :].split("/", 1)
            return f"{method} {prefix}{{id}}" + (f"/{rest[1]}" if len(rest) > 1 else "")
    return f"{method} {path}"


# --- Processes -------------------------------------------------------------------------------------


# --- Environment and the product's settings --------------------------------------------------------


def bench_env(sim_url: str, redis_url: str) -> dict[str, str]:
    """Production-like (bench/common.py) on the fast timing profile, pointed at zoomsim."""
    return production_env(
        **CREDENTIALS,
        DJANGO_SETTINGS_MODULE="controlplane.settings",
        TIMING_PROFILE="fast",
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=redis_url,
        PGAPPNAME=APP_NAME,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        ZOOM_API_BASE_URL=f"{sim_url}/v2",
        ZOOM_OAUTH_TOKEN_URL=f"{sim_url}/oauth/token",
        ZOOM_EVENTS_WS_URL=sim_url.replace("http", "ws", 1) + "/ws",
    )


@dataclass(frozen=True)
class ProductSettings:
    interval_s: float
    window_s: float
    budget: int
    lease_ttl_s: float
    status_per_s: int
    repair_threads: int


def product_settings() -> ProductSettings:
    from django.conf import settings

    return ProductSettings(
        interval_s=settings.RECONCILE_INTERVAL.total_seconds(),
        window_s=settings.RECONCILE_BUDGET_WINDOW.total_seconds(),
        budget=int(settings.RECONCILE_METRICS_CALLS_PER_MINUTE),
        lease_ttl_s=settings.RECONCILE_LEASE_TTL.total_seconds(),
        status_per_s=int(settings.ZOOM_RTMS_STATUS_CALLS_PER_SECOND),
        repair_threads=int(settings.RECONCILE_REPAIR_THREADS),
    )


# --- zoomsim ---------------------------------------------------------------------------------------


class Sim:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        from zoomsim.testing import SimProcess

        sim_env = {
            **env,
            "ZOOMSIM_TIME_SCALE": str(SIM_SCALE),
            "ZOOMSIM_LOG_LEVEL": "WARNING",
            "ZOOMSIM_DATA_CENTRE": "fra1",
            "ZOOMSIM_RTMS_CONCURRENCY_CAP": "5000",
            "ZOOMSIM_METRICS_RATE_PER_MINUTE": str(ZOOM_METRICS_PER_MINUTE),
            "ZOOMSIM_RTMS_STATUS_RATE_PER_SECOND": str(ZOOM_STATUS_PER_S),  # per-second limits: real time
            "ZOOMSIM_RTMS_EVENT_DELAY_SECONDS": str(EVENT_DELAY_S / SIM_SCALE),
            "ZOOMSIM_RTMS_CONNECT_WINDOW_SECONDS": str(CONNECT_WINDOW_S / SIM_SCALE),
            "ZOOMSIM_RTMS_KEEPALIVE_SECONDS": str(KEEPALIVE_S / SIM_SCALE),
        }
        self.proc = SimProcess(["--log-level", "WARNING"], env=sim_env, log_path=str(logs / "zoomsim.log"))
        self.seq = 0

    def start(self) -> None:
        self.proc.start(timeout=30)
        limits = {
            "meeting_get_per_second": ZOOM_MEETING_GET_PER_S,
            "user_get_per_second": ZOOM_USER_GET_PER_S,
        }
        requests.post(f"{self.base_url}/_sim/rate_limits", json=limits, timeout=10).raise_for_status()

    @property
    def base_url(self) -> str:
        return str(self.proc.base_url)

    @property
    def client(self) -> Any:
        return self.proc.client

    def ledger(self, kind: str, since: int | None = None) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.client.ledger(kind=kind, since=since)
        if entries:
            self.seq = max(self.seq, max(int(e["seq"]) for e in entries))
        return entries

    def latest_seq(self) -> int:
        """A ledger position at or before now."""
        self.ledger("rest.call,meeting.*,oauth.token,sim.*", since=self.seq)
        return self.seq


# --- One size --------------------------------------------------------------------------------------


@dataclass
class SizeResult:
    k: int
    create_s: float = 0.0
    dropped: int = 0  # meeting.started copies zoomsim dropped (webhook + ws)
    starts_s: float | None = None  # last meeting's first 204 start, from t0
    capture_s: float | None = None  # last meeting's stream connected, from t0
    first_capture_s: float | None = None
    captured: int = 0
    started: int = 0  # meetings with a 204 start
    runs: int = 0
    run_status: Counter[str] = field(default_factory=Counter)
    max_overlap: int = 0  # reconcile runs of the account at once
    unfinished: int = 0
    run_errors: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)  # path kind (+ status) -> count, until capture
    metrics_429: int = 0  # whole measurement
    streams: int = 0  # stream rows of the K meetings
    stopped_11: int = 0  # streams Zoom stopped for not connecting in time
    peak_captured: int = 0
    stop_reasons: Counter[int] = field(default_factory=Counter)  # of the K meetings' stopped streams
    actions: Counter[str] = field(
        default_factory=Counter
    )  # RTMS actions zoomsim applied (ledger rtms.action)
    stream_states: Counter[str] = field(default_factory=Counter)
    apply_per_s: float = math.nan  # start calls per second between the first and the last
    log_counts: Counter[str] = field(default_factory=Counter)  # telling log lines of the product processes
    note: str = ""


def create_meetings(sim: Sim, k: int, first: int) -> dict[str, int]:
    meetings: dict[str, int] = {}
    for i in range(first, first + k):
        # Silent: no transcript, nothing generated; RTMS started only through the API.
        m = sim.client.create_meeting(f"host{i}@{HOST_DOMAIN}", topic=f"recovery {i}", rtms="api")
        meetings[m["meeting_uuid"]] = int(m["meeting_id"])
    return meetings


def connected_count(uuids: list[str]) -> int:
    from rtms.models import RtmsStream

    return int(
        RtmsStream.objects.filter(meeting__zoom_uuid__in=uuids, state="connected")
        .values("meeting_id")
        .distinct()
        .count()
    )


def measure_size(
    k: int, first: int, sim: Sim, procs: Sequence[Proc], timeout: float
) -> tuple[SizeResult, dict[str, int]]:
    from reconciler.models import ReconcileRun
    from rtms.models import RtmsStream

    result = SizeResult(k=k)
    mark = sim.latest_seq()
    last_run = ReconcileRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    offsets = {p.name: p.log_path.stat().st_size for p in procs}
    began = time.monotonic()
    meetings = create_meetings(sim, k, first)
    t0 = datetime.now(UTC)
    t0_mono = time.monotonic()
    result.create_s = t0_mono - began
    uuids = list(meetings)
    ids = set(meetings.values())

    deadline = t0_mono + timeout
    captured = 0
    while time.monotonic() < deadline:
        check_alive(procs)
        captured = connected_count(uuids)
        result.peak_captured = max(result.peak_captured, captured)
        if captured >= k:
            break
        time.sleep(0.5)
    end = datetime.now(UTC)
    result.captured = captured

    streams = list(
        RtmsStream.objects.filter(meeting__zoom_uuid__in=uuids).values_list(
            "meeting__zoom_uuid", "state", "state_changed_at", "stop_reason"
        )
    )
    result.streams = len(streams)
    result.stream_states = Counter(state for _u, state, _at, _r in streams)
    result.stop_reasons = Counter(
        int(r) for _u, state, _at, r in streams if state == "stopped" and r is not None
    )
    result.stopped_11 = sum(1 for _u, _s, _at, reason in streams if reason == 11)
    connected_at = sorted(at for _u, state, at, _r in streams if state == "connected" and at is not None)
    if connected_at:
        result.first_capture_s = (connected_at[0] - t0).total_seconds()
    if captured >= k:
        last = max(connected_at)
        result.capture_s = (last - t0).total_seconds()
        end = last
    else:
        result.note = f"only {captured} of {k} captured within {timeout:.0f} s"

    calls = [e for e in sim.ledger("rest.call,oauth.token", since=mark)]
    first_start: dict[int, datetime] = {}
    for e in calls:
        if e["kind"] != "rest.call":
            continue
        match = START_PATH.match(str(e.get("path", "")))
        if match and int(match.group(1)) in ids and e.get("status") == 204:
            at = parse_at(e["at"])
            mid = int(match.group(1))
            first_start[mid] = min(at, first_start.get(mid, at))
    result.started = len(first_start)
    if len(first_start) > 1:
        span = (max(first_start.values()) - min(first_start.values())).total_seconds()
        result.apply_per_s = (len(first_start) - 1) / span if span > 0 else math.nan
    if len(first_start) == k:
        result.starts_s = (max(first_start.values()) - t0).total_seconds()
    for e in calls:
        at = parse_at(e["at"])
        path = str(e.get("path", ""))
        if e["kind"] == "oauth.token":
            if at <= end:
                result.calls["POST /oauth/token"] += 1
            continue
        if path.startswith("/v2/metrics/meetings") and e.get("reason") == "rate_limit":
            result.metrics_429 += 1
        if at <= end:
            result.calls[f"{path_kind(str(e.get('method', '')), path)} {e.get('status')}"] += 1
    result.actions = Counter(
        str(e.get("action"))
        for e in sim.ledger("rtms.action", since=mark)
        if e.get("meeting_uuid") in meetings and parse_at(e["at"]) <= end
    )
    result.dropped = sum(
        1
        for e in sim.ledger("webhook.dropped,ws.dropped", since=mark)
        if e.get("event") == "meeting.started" and e.get("meeting_uuid") in meetings
    )

    for proc in procs:
        with proc.log_path.open("rb") as log:
            log.seek(offsets[proc.name])
            text = log.read().decode(errors="replace")
        for needle in TELLING_LOG_LINES:
            if needle in text:
                result.log_counts[f"{proc.name}: {needle}"] += text.count(needle)
    runs = list(ReconcileRun.objects.filter(pk__gt=last_run, started_at__lte=end).order_by("started_at"))
    result.runs = len(runs)
    result.run_status = Counter(str(r.status) for r in runs)
    result.unfinished = sum(1 for r in runs if r.finished_at is None)
    # A run killed by its time limit never records its end: count it until that limit at the latest.
    spans = [(r.started_at, r.finished_at or min(end, r.started_at + RUN_TIME_LIMIT)) for r in runs]
    result.max_overlap = max(
        (sum(1 for s, f in spans if s <= start < f) for start, _ in spans),
        default=0,
    )
    for r in runs:
        for error in r.errors or []:
            result.run_errors[re.sub(r" [0-9A-Za-z+/=]{1,12}:", " <meeting>:", str(error))] += 1
    return result, meetings


def end_meetings(sim: Sim, meetings: Mapping[str, int], procs: Sequence[Proc]) -> None:
    """End the meetings (their ends are delivered) and wait until the product stopped every stream."""
    from rtms.lifecycle import STREAM_ACTIVE
    from rtms.models import RtmsStream

    for uuid in meetings:
        sim.client.end_meeting(uuid)
    uuids = list(meetings)

    def settled() -> bool:
        check_alive(procs)
        return not RtmsStream.objects.filter(
            meeting__zoom_uuid__in=uuids, state__in=list(STREAM_ACTIVE)
        ).exists()

    wait_for(settled, timeout=60 + len(meetings) * 0.1, interval=1, what="streams of ended meetings stopped")


# --- Report ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    pages: int
    observe_wait_s: float  # waiting for the budget before the last page
    starts_s: float  # observe wait + K starts at Zoom's per-second limit
    capture_s: float  # + the delay to rtms_started


def lower_bound(k: int, conf: ProductSettings) -> Bound:
    pages = math.ceil(k / PAGE_SIZE)
    # A complete observation needs every page; the budget lets `budget` calls through per window.
    observe_wait = (pages - 1) // conf.budget * conf.window_s
    starts = observe_wait + k / ZOOM_STATUS_PER_S
    return Bound(pages, observe_wait, starts, starts + EVENT_DELAY_S)


def calls_of(result: SizeResult, kind: str) -> tuple[int, int]:
    """(all, non-2xx) calls of one path kind."""
    total = bad = 0
    for key, n in result.calls.items():
        name, _, status = key.rpartition(" ")
        if name == kind:
            total += n
            if not status.startswith("2"):
                bad += n
    return total, bad


def report(results: list[SizeResult], conf: ProductSettings) -> None:
    row = "{:>5} {:>10} {:>9} {:>6} {:>9} {:>5} {:>8} {:>4} {:>7} {:>8} {:>8} {:>8}".format
    print(
        row(
            "K",
            "capture s",
            "LB s",
            "ratio",
            "starts s",
            "runs",
            "metrics",
            "429",
            "starts",
            "st. 429",
            "per mtg",
            "lookups",
        )
    )
    for r in results:
        b = lower_bound(r.k, conf)
        metrics, _ = calls_of(r, "GET /v2/metrics/meetings")
        starts, refused = calls_of(r, "PATCH /v2/live_meetings/{id}/rtms_app/status")
        status_429 = r.calls.get("PATCH /v2/live_meetings/{id}/rtms_app/status 429", 0)
        lookups = calls_of(r, "GET /v2/meetings/{id}")[0] + calls_of(r, "GET /v2/users/{id}")[0]
        print(
            row(
                r.k,
                fmt(r.capture_s),
                f"{b.capture_s:.1f}",
                f"{r.capture_s / b.capture_s:.2f}" if r.capture_s is not None else "-",
                fmt(r.starts_s),
                r.runs,
                metrics,
                r.metrics_429,
                starts,
                status_429,
                f"{(starts - refused) / r.k:.2f}",
                lookups,
            )
        )
    print(
        "(s = seconds from the last of the K meetings created; LB = lower bound without the reconcile "
        f"interval's phase, 0-{conf.interval_s:g} s: ceil(K/{PAGE_SIZE}) /metrics/meetings within the "
        f"budget, K starts at Zoom's {ZOOM_STATUS_PER_S}/s, rtms_started {EVENT_DELAY_S:g} s later; "
        "ratio = capture s / LB s (target under 2); 429 = /metrics/meetings answered 429, st. 429 = "
        "rtms_app/status answered 429 (both target 0); per mtg = successful start calls per meeting "
        "(target 1.00); no lookup is needed: the live list carries the host e-mail the residency rule "
        "needs)"
    )
    for r in results:
        b = lower_bound(r.k, conf)
        print()
        print(
            f"K={r.k}: created in {r.create_s:.1f} s; meeting.started copies dropped {r.dropped} "
            f"(of {2 * r.k}); "
            f"{r.started}/{r.k} started, {r.captured}/{r.k} connected"
            + (f"; first connected at {fmt(r.first_capture_s)} s" if r.first_capture_s is not None else "")
        )
        if r.note:
            print(f"  NOT CAPTURED: {r.note}")
        print(
            f"  time to all start calls {fmt(r.starts_s)} s, to full capture {fmt(r.capture_s)} s; lower "
            f"bound {b.starts_s:.1f} s / {b.capture_s:.1f} s + phase 0-{conf.interval_s:g} s "
            f"({b.pages} page(s) within a budget of {conf.budget} per {conf.window_s:g} s: "
            f"{b.observe_wait_s:g} s waiting; {r.k} starts at Zoom's {ZOOM_STATUS_PER_S}/s; rtms_started "
            f"{EVENT_DELAY_S:g} s after the 204)"
        )
        statuses = ", ".join(f"{n} {s}" for s, n in sorted(r.run_status.items()))
        print(
            f"  reconcile runs until capture: {r.runs} ({statuses}); at most {r.max_overlap} at once "
            f"(lease TTL {conf.lease_ttl_s:g} s); {r.unfinished} unfinished"
        )
        if r.run_errors:
            worst = ", ".join(f"{n}x {e}" for e, n in r.run_errors.most_common(4))
            print(f"  run errors: {worst}")
        states = ", ".join(f"{n} {s}" for s, n in sorted(r.stream_states.items()))
        print(
            f"  streams: {r.streams} rows for {r.k} meetings ({states or 'none'}); at most {r.peak_captured} "
            f"connected at once; {r.stopped_11} stopped by Zoom for not connecting within "
            f"{CONNECT_WINDOW_S:g} s"
        )
        print(
            f"  start calls made at {fmt(r.apply_per_s)} meetings/s (first to last); RTMS actions zoomsim "
            "applied: "
            + (", ".join(f"{n} {a}" for a, n in sorted(r.actions.items())) or "none")
            + "; stop reasons of stopped streams: "
            + (", ".join(f"{n}x {reason}" for reason, n in sorted(r.stop_reasons.items())) or "none")
        )
        if r.log_counts:
            print("  product log lines: " + ", ".join(f"{n}x {k}" for k, n in sorted(r.log_counts.items())))
        print(
            f"  Zoom calls until capture (lower bound: {b.pages} /metrics/meetings, {r.k} starts, 0 lookups):"
        )
        for key, n in sorted(r.calls.items()):
            print(f"    {n:>6}  {key}")
        print(f"    /metrics/meetings answered 429 during the measurement: {r.metrics_429} (must be 0)")


# --- Orchestration ---------------------------------------------------------------------------------


def start_system(env: dict[str, str], sim: Sim, logs: Path, k_max: int, concurrency: int) -> list[Proc]:
    py = sys.executable
    queues = subprocess.run(
        [py, "manage.py", "celery_queues"], cwd=REPO, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    port = free_port()
    procs = [
        Proc(
            "web",
            [py, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "controlplane.asgi:application"],
            env,
            logs,
        )
    ]
    base = f"http://127.0.0.1:{port}"
    wait_web_up(base, procs)
    # As docs/deploy.md advises: the reconcile queue has a worker of its own (a run is one task), so that
    # repairs never wait behind a burst of events, and the events' worker has every slot for them.
    celery = [py, "-m", "celery", "-A", "controlplane", "worker", "--loglevel", "WARNING"]
    celery += ["--without-gossip", "--without-mingle"]
    event_queues = ",".join(q for q in queues.split(",") if q != "reconcile")
    worker = [*celery, "-Q", event_queues, "-c", str(concurrency), "-n", "bench-recovery@%h"]
    procs.append(Proc("worker", worker, env, logs))
    reconciler = [*celery, "-Q", "reconcile", "-c", "1", "-n", "bench-recovery-reconcile@%h"]
    procs.append(Proc("reconcile-worker", reconciler, env, logs))
    beat = [py, "-m", "celery", "-A", "controlplane", "beat", "--loglevel", "WARNING"]
    procs.append(Proc("beat", [*beat, "-s", str(logs / "celerybeat-schedule")], env, logs))
    procs.append(Proc("events", [py, "manage.py", "zoom_events"], env, logs))
    gateway = [py, "manage.py", "rtms_gateway", "--region", REGION, "--capacity", str(k_max + 100)]
    procs.append(Proc("gateway", gateway, env, logs))
    sim.client.set_webhook_url(f"{base}/zoom/webhook")

    def subscribed() -> bool:
        check_alive(procs)
        return bool(sim.ledger("ws.connected"))

    wait_for(subscribed, timeout=60, interval=0.5, what="event subscription connected")
    return procs


def run_benchmark(args: argparse.Namespace) -> int:
    reset_database(DB_NAME)
    redis_flush(args.redis_url)
    with tempfile.TemporaryDirectory(prefix="bench-recovery-") as tmp_name:
        logs = Path(tmp_name)
        sim = Sim(production_env(**CREDENTIALS), logs)
        sim.start()
        procs: list[Proc] = []
        try:
            env = bench_env(sim.base_url, args.redis_url)
            migrate_all(env)
            django_setup(env)
            configure_product(HOST_DOMAIN, active=True)
            conf = product_settings()
            # Every start is lost, on both channels, for the whole run.
            sim.client.add_event_fault("meeting.started", "*", "drop")
            procs = start_system(env, sim, logs, max(args.sizes), args.worker_concurrency)
            print(
                f"TIMING_PROFILE=fast: reconcile every {conf.interval_s:g} s, budget {conf.budget} "
                f"/metrics/meetings calls per {conf.window_s:g} s, lease TTL {conf.lease_ttl_s:g} s; "
                f"page size {PAGE_SIZE}; repairs on {conf.repair_threads} threads per run; rtms_app/status "
                f"paced at {conf.status_per_s}/s per account"
            )
            print(
                f"zoomsim time scale {SIM_SCALE:g} (Zoom's minute = {60 * SIM_SCALE:g} s: "
                f"/metrics/meetings {ZOOM_METRICS_PER_MINUTE} per {60 * SIM_SCALE:g} s), real-time: "
                f"rtms_app/status {ZOOM_STATUS_PER_S}/s, GET meeting {ZOOM_MEETING_GET_PER_S}/s, GET user "
                f"{ZOOM_USER_GET_PER_S}/s, connect window {CONNECT_WINDOW_S:g} s, keep-alive "
                f"{KEEPALIVE_S:g} s, rtms_started {EVENT_DELAY_S:g} s after the 204"
            )
            print(
                f"processes: daphne, celery worker (-c {args.worker_concurrency}, every queue but "
                "reconcile), reconcile worker (-c 1), beat, "
                f"zoom_events, one rtms_gateway --region {REGION}; all meetings route to {REGION} "
                f"(rule host_email_domain {HOST_DOMAIN}); silent meetings; nothing pinned, machine shared"
            )
            print()
            sys.stdout.flush()
            time.sleep(2 * conf.interval_s)  # a few idle runs: the budget is in its steady state
            results: list[SizeResult] = []
            first = 0
            for i, k in enumerate(args.sizes):
                print(f"  K={k} ...", file=sys.stderr, flush=True)
                result, meetings = measure_size(k, first, sim, procs, args.capture_timeout)
                results.append(result)
                first += k
                if i + 1 < len(args.sizes):
                    end_meetings(sim, meetings, procs)
                    time.sleep(conf.window_s)  # the budget refills before the next size
            report(results, conf)
        finally:
            for proc in reversed(procs):
                proc.stop()
            sim.proc.stop()
            redis_flush(args.redis_url)
    return 0


def parse_sizes(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma list of integers: {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("sizes must be positive integers")
    return values


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "K live, silent meetings whose starts were all lost, captured by the reconciler (real processes, "
            f"zoomsim, fast profile). Recreates the database {DB_NAME!r} and flushes the Redis database "
            "given. Prints per K the time to all start calls and to full capture, the reconcile runs and "
            "Zoom calls used, and the lower bound set by the page size and the rate limits."
        ),
        epilog="Exit status: 0 measured, 1 the benchmark broke, 2 bad arguments.",
    )
    parser.add_argument("--sizes", type=parse_sizes, default=[10, 100, 1000], help="default 10,100,1000")
    parser.add_argument(
        "--redis-url",
        default=DEFAULT_REDIS_URL,
        help=f"a Redis database of its own, flushed before and after (default {DEFAULT_REDIS_URL})",
    )
    parser.add_argument(
        "--capture-timeout", type=positive, default=240.0, help="seconds per K before giving up (default 240)"
    )
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=3,
        help="slots of the events' Celery worker (default 3; the reconcile worker has 1)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run_benchmark(args)
    except BenchmarkBroke as exc:
        print(f"BENCHMARK BROKE: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
