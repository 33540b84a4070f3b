#!/usr/bin/env python
"""Gateway benchmark: one ``manage.py rtms_gateway`` holding N concurrent transcript streams from zoomsim.

The gateway is pinned to one core (``taskset``); zoomsim, this orchestrator and the PostgreSQL backends
serving the benchmark database are pinned to the other (Redis and PostgreSQL's background processes are
shared services and stay where the kernel puts them). zoomsim runs in real time (time scale 1.0) and each
meeting says 2 transcript segments per second (two generated speakers at 1/s each, from the first ready
client on).

Streams are created the simple way: zoomsim meetings with ``rtms: "api"``, RTMS started through zoomsim's
control API (what a host does), then this orchestrator inserts the ``Meeting`` and ``RtmsStream`` rows
itself (state ``wanted``, region, ``server_urls``, as ``rtms.inbox.apply.apply_rtms_started`` would) one
transaction per stream at ``--ramp-rate`` streams/s, each followed by the product's ``NOTIFY``. No webhook,
worker or daphne is involved. Sizes are cumulative: streams of a smaller N stay up for the larger ones.

Per N, after all streams are ready and a warm-up: the gateway's CPU % (utime+stime from /proc), its RSS
(VmRSS), and the latency from zoomsim's send of each delivered segment (ledger ``rtms.segment_sent`` ``at``)
to the row's ``created_at`` in the region database (``clock_timestamp()`` at INSERT, committed in the same
statement's transaction; same machine clock). Also the delay from a stream row's creation to zoomsim's
``rtms.ready`` (the gateway's CLIENT_READY_ACK) and, for information, Zoom's official SDK (``rtms`` on
PyPI) holding ``--sdk-streams`` streams in one process on the gateway's core.

Exit status: 0 measured (targets may be missed), 1 the benchmark broke, 2 bad arguments.
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.common import (  # noqa: E402
    CREDENTIALS,
    REGION,
    BenchmarkBroke,
    configure_product,
    database_url,
    django_setup,
    fmt,
    migrate_all,
    parse_at,
    percentile,
    positive,
    production_env,
    redis_flush,
    reset_database,
    stop_process,
    tail,
    verdict,
    wait_for,
)

DB_NAME = "rtms_bench_gw"
DATABASE_URL = database_url(DB_NAME)
PG_URL = DATABASE_URL.replace("postgres://", "postgresql://", 1)
REDIS_URL = "redis://127.0.0.1:6379/12"
HOST_DOMAIN = "bench.example.com"
APP_NAME = "rtms-bench-gw"  # PGAPPNAME of the product processes (their backends are found by it too)
# Two speakers at 1 segment/s each (time scale 1.0): 2 segments/s per stream.
SPEECH = {"speakers": 2, "rate_per_s": 1.0, "languages": ["en"]}

# Targets (issue 6 items 7 and 1).
P99_LIMIT_MS, TARGET_N, MIN_N, MAX_KB_PER_STREAM, READY_P99_S = 250.0, 1000, 500, 150.0, 1.0


@dataclass
class SizeResult:
    n: int
    ready: int = 0
    cpu_pct: float = math.nan
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    rss_kb: int = 0
    slope_kb: float = math.nan
    delivered: int = 0  # segments delivered by zoomsim in the window
    missing: int = 0  # of those, not in the database a few seconds after the window
    seconds: float = 0.0
    ready_delays_s: list[float] = field(default_factory=list)
    # The ready delay in two parts: row -> zoomsim answered the signaling handshake (wake, claim, connect,
    # TLS), and that answer -> ready (media socket, its handshake, CLIENT_READY_ACK).
    signaling_delays_s: list[float] = field(default_factory=list)
    media_delays_s: list[float] = field(default_factory=list)


# --- A process's CPU and memory (/proc) ------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# --- Environment, pinning --------------------------------------------------------------------------


def bench_env() -> dict[str, str]:
    """A production-like environment with production timings (bench/common.py)."""
    return production_env(
        **CREDENTIALS,
        DJANGO_SETTINGS_MODULE="controlplane.settings",
        TIMING_PROFILE="production",
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        PGAPPNAME=APP_NAME,
    )


@dataclass
class Placement:
    gateway: list[str]  # taskset prefix for the gateway (and the SDK process)
    other: set[int] | None  # CPUs for everything else
    text: str


def placement() -> Placement:
    cpus = sorted(os.sched_getaffinity(0))
    if shutil.which("taskset") is None or len(cpus) < 2:
        return Placement([], None, "WARNING: taskset or a second CPU missing; nothing is pinned")
    gateway, other = cpus[-1], cpus[0]
    return Placement(
        ["taskset", "-c", str(gateway)],
        {other},
        f"gateway on CPU {gateway}; zoomsim, this orchestrator and the PostgreSQL backends of {DB_NAME} on "
        f"CPU {other} (taskset/sched_setaffinity); Redis and PostgreSQL's background processes unpinned",
    )


def pin_backends(cpus: set[int] | None) -> int:
    """Pin the PostgreSQL backends serving the benchmark database; returns how many were pinned."""
    if cpus is None:
        return 0
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        pids = [
            int(r[0]) for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [DB_NAME])
        ]
    pinned = 0
    for pid in pids:
        try:
            os.sched_setaffinity(pid, cpus)
            pinned += 1
        except OSError:
            pass
    return pinned


# --- Django (in this process, with the benchmark's environment) ------------------------------------


def insert_stream(started: dict[str, Any]) -> tuple[int, datetime]:
    """The rows the worker would write for ``meeting.rtms_started`` (routed meeting, wanted stream), then
    the product's NOTIFY after commit. Returns (stream pk, created_at)."""
    from django.db import transaction
    from django.utils import timezone

    from regions.models import Region
    from rtms.gateway.notify import notify_gateways
    from rtms.lifecycle import RoutingStatus
    from rtms.models import Meeting, RtmsStream, ZoomAccount
    from rtms.personal import email_hash

    region = Region.objects.get(code=REGION)
    account = ZoomAccount.objects.get(zoom_account_id=CREDENTIALS["ZOOM_ACCOUNT_ID"])
    now = timezone.now()
    with transaction.atomic():
        meeting = Meeting.objects.create(
            zoom_uuid=started["meeting_uuid"],
            zoom_meeting_id=int(started["meeting_id"]),
            account=account,
            host_email_hash=email_hash(started["host_email"]),
            region=region,
            routing_status=RoutingStatus.ROUTED,
            started_at=now,
            last_seen_live_at=now,
        )
        stream = RtmsStream.objects.create(
            rtms_stream_id=started["rtms_stream_id"],
            meeting=meeting,
            region=region,
            server_urls=[started["server_urls"]],
            server_urls_event_ts=int(started["event_ts"]),
            state_changed_at=now,
        )
        transaction.on_commit(lambda: notify_gateways(REGION))
    return stream.pk, stream.created_at


def stored_segments(since: datetime) -> dict[tuple[int, int], datetime]:
    """(stream pk, start_ms) -> created_at of the segments stored since ``since``."""
    from regions.storage import content_alias
    from rtms.models import TranscriptSegment

    rows = (
        TranscriptSegment.objects.using(content_alias(REGION))
        .filter(created_at__gte=since)
        .values_list("stream_id", "start_ms", "created_at")
    )
    return {(sid, int(start)): created for sid, start, created in rows if start is not None}


def meeting_uuids() -> list[str]:
    from rtms.models import Meeting

    return [str(u) for u in Meeting.objects.values_list("zoom_uuid", flat=True)]


# --- zoomsim ---------------------------------------------------------------------------------------


class Sim:
    def __init__(self, env: dict[str, str], tmp: Path, *, tls: bool = False) -> None:
        from zoomsim.testing import SimProcess

        sim_env = {
            **env,
            "ZOOMSIM_TIME_SCALE": "1.0",
            "ZOOMSIM_LOG_LEVEL": "WARNING",
            "ZOOMSIM_DATA_CENTRE": "fra1",
            "ZOOMSIM_RTMS_CONCURRENCY_CAP": "5000",
        }
        # --tls: zoomsim serves the RTMS sockets as wss:// with a test CA it generates, and the gateway
        # verifies them with it (RTMS_CA_FILE), as it verifies Zoom's in production.
        tls_args = ["--tls-dir", str(tmp / "tls")] if tls else []
        self.proc = SimProcess(
            ["--log-level", "WARNING", *tls_args], env=sim_env, log_path=str(tmp / "zoomsim.log")
        )
        self.seq = 0  # ledger entries up to here were read

    def start(self) -> None:
        self.proc.start(timeout=30)

    @property
    def client(self) -> Any:
        return self.proc.client

    def ledger(self, kind: str, since: int | None = None) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.client.ledger(kind=kind, since=since)
        if entries:  # everything up to the newest entry returned was recorded before this call
            self.seq = max(self.seq, max(int(e["seq"]) for e in entries))
        return entries

    def start_streams(self, count: int, first: int) -> list[dict[str, Any]]:
        """``count`` live meetings with RTMS started by their host; their ``rtms_started`` payloads."""
        mark = self.latest_seq()
        uuids: dict[str, str] = {}
        for i in range(first, first + count):
            host = f"host{i}@{HOST_DOMAIN}"
            m = self.client.create_meeting(
                host, topic=f"bench {i}", rtms="api", transcript_generate=SPEECH, speak_from="first_client"
            )
            uuids[m["meeting_uuid"]] = host
        for uuid in uuids:
            self.client.host_rtms(uuid, "start")

        def announced() -> list[dict[str, Any]]:
            found = [
                e
                for e in self.ledger("event.emitted", since=mark)
                if e.get("event") == "meeting.rtms_started" and e.get("meeting_uuid") in uuids
            ]
            return found if len(found) >= count else []

        events = wait_for(announced, timeout=30 + count * 0.05, interval=0.5, what="rtms_started announced")
        out = []
        for e in events:
            payload = dict(e["payload"])
            payload["event_ts"] = int(e.get("event_ts") or 0)
            payload["host_email"] = uuids[payload["meeting_uuid"]]
            out.append(payload)
        return out

    def latest_seq(self) -> int:
        """A ledger position at or before now (every query moves it forward)."""
        self.ledger("rtms.ready", since=self.seq)
        return self.seq

    def signaling_opened_at(self, stream_ids: set[str], since: int) -> dict[str, datetime]:
        """First signaling handshake zoomsim answered, per stream among ``stream_ids``."""
        out: dict[str, datetime] = {}
        for e in self.ledger("rtms.connection", since=since):
            sid = e.get("rtms_stream_id")
            if e.get("action") == "opened" and e.get("socket") == "signaling" and sid in stream_ids:
                out.setdefault(sid, parse_at(e["at"]))
        return out

    def ready_at(self, stream_ids: set[str], since: int) -> dict[str, datetime]:
        """First ``rtms.ready`` per stream among ``stream_ids``."""
        out: dict[str, datetime] = {}
        for e in self.ledger("rtms.ready", since=since):
            sid = e.get("rtms_stream_id")
            if sid in stream_ids and sid not in out:
                out[sid] = parse_at(e["at"])
        return out

    def end_all(self, uuids: Sequence[str]) -> None:
        for uuid in uuids:
            try:
                self.client.end_meeting(uuid)
            except Exception:  # already ended (stopped by a window): nothing to do
                pass


# --- The official SDK (information only) ------------------------------------------------------------

SDK_SCRIPT = r"""
import json, os, signal, sys, threading, time
import rtms

args = json.load(open(sys.argv[1]))
counts = [0] * len(args["streams"])
joined = [None] * len(args["streams"])
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
pool = rtms.EventLoopPool(threads=args["threads"])

def handlers(i):
    def on_join(reason):
        joined[i] = reason
    def on_transcript(data, size, timestamp, metadata):
        counts[i] += 1
    return on_join, on_transcript

clients = []
for i, s in enumerate(args["streams"]):
    c = rtms.Client()
    on_join, on_transcript = handlers(i)
    c.on_join_confirm(on_join)
    c.on_transcript_data(on_transcript)
    pool.add(c)
    c.join(meeting_uuid=s["meeting_uuid"], rtms_stream_id=s["rtms_stream_id"], server_urls=s["server_urls"])
    clients.append(c)
for loop in pool.loops:
    loop.start()
while True:
    with open(args["status_file"] + ".tmp", "w") as f:
        json.dump({"segments": sum(counts), "joined_ok": sum(1 for r in joined if r == 0)}, f)
    os.replace(args["status_file"] + ".tmp", args["status_file"])
    time.sleep(0.5)
"""


def sdk_reason(cwd: Path) -> str | None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = subprocess.run(
        [sys.executable, "-c", "import rtms, rtms._rtms; print(rtms.__file__)"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0:
        return f"the official rtms SDK does not import: {probe.stderr.strip()[-200:]}"
    if "site-packages" not in probe.stdout:
        return f"`import rtms` does not resolve to the SDK: {probe.stdout.strip()}"
    return None


@dataclass
class SdkResult:
    n: int
    ready: int = 0
    cpu_pct: float = math.nan
    rss_kb: int = 0
    received_per_s: float = math.nan
    note: str = ""


def run_sdk(
    sim: Sim, prefix: list[str], n: int, threads: int, args: argparse.Namespace, tmp: Path
) -> SdkResult:
    result = SdkResult(n=n)
    work = tmp / "sdk"
    (work / "logs").mkdir(parents=True)
    reason = sdk_reason(work)
    if reason is not None:
        result.note = f"skipped: {reason}"
        return result
    mark = sim.latest_seq()
    streams = sim.start_streams(n, first=100_000)
    status = work / "status.json"
    (work / "sdk_client.py").write_text(SDK_SCRIPT)
    (work / "args.json").write_text(
        json.dumps({"streams": streams, "threads": threads, "status_file": str(status)})
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        ZM_RTMS_CLIENT=CREDENTIALS["ZOOM_CLIENT_ID"],
        ZM_RTMS_SECRET=CREDENTIALS["ZOOM_CLIENT_SECRET"],
        ZM_RTMS_LOG_LEVEL="error",
    )
    with open(work / "sdk.out", "wb") as log:
        proc = subprocess.Popen(
            [*prefix, sys.executable, "sdk_client.py", "args.json"],
            cwd=work,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    ids = {s["rtms_stream_id"] for s in streams}
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            result.ready = len(sim.ready_at(ids, mark))
            if result.ready >= n:
                break
            time.sleep(1)
        if proc.poll() is not None:
            result.note = f"SDK process exited with {proc.returncode}: {tail(work / 'sdk.out', 5)}"
            return result
        time.sleep(args.warmup)

        def received() -> int:
            try:
                return int(json.loads(status.read_text())["segments"])
            except (OSError, ValueError, KeyError):
                return 0

        cpu0, seg0, t0 = cpu_seconds(proc.pid), received(), time.monotonic()
        time.sleep(args.duration)
        cpu1, seg1, t1 = cpu_seconds(proc.pid), received(), time.monotonic()
        result.rss_kb = rss_kb(proc.pid)
        result.cpu_pct = 100 * (cpu1 - cpu0) / (t1 - t0)
        result.received_per_s = (seg1 - seg0) / (t1 - t0)
        result.note = f"EventLoopPool(threads={threads}), transcript callback only"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        sim.end_all([s["meeting_uuid"] for s in streams])
    return result


# --- Orchestration ---------------------------------------------------------------------------------


def measure_size(
    n: int,
    sim: Sim,
    gateway: subprocess.Popen[bytes],
    streams: dict[str, int],
    created: dict[str, datetime],
    place: Placement,
    args: argparse.Namespace,
) -> SizeResult:
    result = SizeResult(n=n)
    add = n - len(streams)
    mark = sim.latest_seq()
    new: list[str] = []
    if add > 0:
        started = sim.start_streams(add, first=len(streams))
        gap = 1.0 / args.ramp_rate
        next_at = time.monotonic()
        for payload in started:
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += gap
            pk, at = insert_stream(payload)
            streams[payload["rtms_stream_id"]] = pk
            created[payload["rtms_stream_id"]] = at
            new.append(payload["rtms_stream_id"])
    ids = set(new)
    # Zoom's connect window is 60 s: a stream not ready by then is stopped (counted as not ready).
    deadline = time.monotonic() + 75
    ready: dict[str, datetime] = {}
    while time.monotonic() < deadline:
        if gateway.poll() is not None:
            raise BenchmarkBroke(f"the gateway exited with {gateway.returncode}")
        ready = sim.ready_at(ids, mark)
        if len(ready) >= len(ids):
            break
        time.sleep(1)
    result.ready_delays_s = sorted((at - created[sid]).total_seconds() for sid, at in ready.items())
    opened = sim.signaling_opened_at(set(ready), mark)
    result.signaling_delays_s = sorted((at - created[sid]).total_seconds() for sid, at in opened.items())
    result.media_delays_s = sorted((ready[sid] - at).total_seconds() for sid, at in opened.items())
    pin_backends(place.other)
    time.sleep(args.warmup)
    window_mark = sim.latest_seq()
    cpu0, t0, wall0 = cpu_seconds(gateway.pid), time.monotonic(), datetime.now(UTC)
    time.sleep(args.duration)
    cpu1, t1, wall1 = cpu_seconds(gateway.pid), time.monotonic(), datetime.now(UTC)
    result.seconds = t1 - t0
    result.rss_kb = rss_kb(gateway.pid)
    result.cpu_pct = 100 * (cpu1 - cpu0) / (t1 - t0)
    time.sleep(3)  # what was sent at the window's end is flushed (100 ms batches)
    sent = [
        e
        for e in sim.ledger("rtms.segment_sent", since=window_mark)
        if e.get("delivered") and wall0 <= parse_at(e["at"]) <= wall1
    ]
    stored = stored_segments(wall0 - timedelta(seconds=5))
    latencies = []
    for e in sent:
        stream_pk = streams.get(str(e.get("rtms_stream_id")))
        committed = stored.get((stream_pk, int(e["start_time"]))) if stream_pk is not None else None
        if committed is None:
            result.missing += 1
        else:
            latencies.append((committed - parse_at(e["at"])).total_seconds() * 1000)
    latencies.sort()
    result.delivered = len(sent)
    result.p50_ms, result.p99_ms = percentile(latencies, 50), percentile(latencies, 99)
    senders = {str(e.get("rtms_stream_id")) for e in sent}
    result.ready = len(senders & set(streams))
    return result


def report(results: list[SizeResult], baseline_kb: int, sdk: SdkResult | None) -> None:
    row = "{:>5} {:>6} {:>9} {:>6} {:>8} {:>8} {:>8} {:>8} {:>11}".format
    print(row("N", "ready", "seg/s", "lost", "CPU %", "p50 ms", "p99 ms", "RSS MB", "KB/stream"))
    prev_n, prev_kb = 0, baseline_kb
    for r in results:
        r.slope_kb = (r.rss_kb - prev_kb) / (r.n - prev_n) if r.n > prev_n else math.nan
        prev_n, prev_kb = r.n, r.rss_kb
        print(
            row(
                r.n,
                r.ready,
                fmt(r.delivered / r.seconds if r.seconds else math.nan, 0),
                r.missing,
                fmt(r.cpu_pct),
                fmt(r.p50_ms),
                fmt(r.p99_ms),
                fmt(r.rss_kb / 1024),
                fmt(r.slope_kb),
            )
        )
    print(
        f"(idle gateway before any stream: RSS {baseline_kb / 1024:.1f} MB; KB/stream = RSS slope from the "
        "previous row; seg/s = segments zoomsim delivered per second in the window; lost = delivered but "
        "not stored 3 s after the window)"
    )
    print()

    passing = [r.n for r in results if r.ready == r.n and r.missing == 0 and r.p99_ms < P99_LIMIT_MS]
    best = max(passing, default=0)
    print(
        f"largest N with all streams ready and p99 < {P99_LIMIT_MS:.0f} ms: {best or 'none'} "
        f"(target {TARGET_N}: {verdict(best >= TARGET_N)}; at least {MIN_N}: {verdict(best >= MIN_N)})"
    )
    if len(results) >= 1 and results[-1].n > 0:
        overall = (results[-1].rss_kb - baseline_kb) / results[-1].n
        worst = max((r.slope_kb for r in results if not math.isnan(r.slope_kb)), default=math.nan)
        print(
            f"RSS per stream: {overall:.1f} KB overall (0 -> {results[-1].n}), worst step {fmt(worst)} KB "
            f"(target < {MAX_KB_PER_STREAM:.0f} KB: {verdict(overall < MAX_KB_PER_STREAM)})"
        )
    delays = sorted(d for r in results for d in r.ready_delays_s)
    print()
    print(
        "stream row created (wanted + NOTIFY) -> zoomsim rtms.ready (CLIENT_READY_ACK received): "
        f"p50 {fmt(percentile(delays, 50) * 1000, 0)} ms, p99 {fmt(percentile(delays, 99) * 1000, 0)} ms, "
        f"max {fmt(delays[-1] * 1000 if delays else math.nan, 0)} ms over {len(delays)} streams "
        f"(target p99 < {READY_P99_S:.0f} s: {verdict(percentile(delays, 99) < READY_P99_S)})"
    )
    for r in results:
        d = r.ready_delays_s
        print(
            f"  ramp to N={r.n}: {len(d)} streams, p50 {fmt(percentile(d, 50) * 1000, 0)} ms, "
            f"p99 {fmt(percentile(d, 99) * 1000, 0)} ms (row -> signaling answered p50 "
            f"{fmt(percentile(r.signaling_delays_s, 50) * 1000, 0)} / p99 "
            f"{fmt(percentile(r.signaling_delays_s, 99) * 1000, 0)} ms; then -> ready p50 "
            f"{fmt(percentile(r.media_delays_s, 50) * 1000, 0)} / p99 "
            f"{fmt(percentile(r.media_delays_s, 99) * 1000, 0)} ms)"
        )
    if sdk is not None:
        print()
        if math.isnan(sdk.cpu_pct):
            print(f"official SDK, N={sdk.n}: {sdk.note}")
        else:
            print(
                f"official SDK (rtms 1.1.0), N={sdk.n} in one process on the gateway's core: "
                f"ready {sdk.ready}, CPU {sdk.cpu_pct:.1f} %, RSS {sdk.rss_kb / 1024:.1f} MB, "
                f"{sdk.received_per_s:.0f} segments/s received ({sdk.note})"
            )


def run_benchmark(args: argparse.Namespace) -> int:
    place = placement()
    if place.other is not None:
        os.sched_setaffinity(0, place.other)  # zoomsim and the SDK probe inherit it
    env = bench_env()
    reset_database(DB_NAME)
    redis_flush(REDIS_URL)
    migrate_all(env)
    django_setup(env)
    configure_product(HOST_DOMAIN)
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp_name:
        tmp = Path(tmp_name)
        sim = Sim(env, tmp, tls=args.tls)
        sim.start()
        gateway_env = {**env, "RTMS_CA_FILE": str(sim.client.tls()["ca_file"])} if args.tls else env
        log = tmp / "gateway.log"
        gateway: subprocess.Popen[bytes] | None = None
        results: list[SizeResult] = []
        sdk: SdkResult | None = None
        try:
            with log.open("wb") as log_file:
                gateway = subprocess.Popen(
                    [
                        *place.gateway,
                        sys.executable,
                        "manage.py",
                        "rtms_gateway",
                        "--region",
                        REGION,
                        "--capacity",
                        str(max(args.sizes) + 100),
                    ],
                    cwd=REPO,
                    env=gateway_env,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                )
            time.sleep(5)
            if gateway.poll() is not None:
                raise BenchmarkBroke(f"the gateway exited with {gateway.returncode}:\n{tail(log)}")
            baseline = rss_kb(gateway.pid)
            print(place.text)
            print(
                "streams: zoomsim meetings (rtms api, host start via control API); Meeting + RtmsStream rows "
                f"(wanted) inserted by this script at {args.ramp_rate:g} streams/s, one transaction + NOTIFY "
                "each; no webhook/worker"
            )
            print(
                "zoomsim time scale 1.0, 2 segments/s per stream; TIMING_PROFILE=production; "
                f"{args.warmup:g} s warm-up + {args.duration:g} s window per N; "
                "latency = ledger rtms.segment_sent `at` -> row created_at (clock_timestamp() at INSERT)"
            )
            print(
                "RTMS sockets: wss:// with certificate verification (zoomsim's test CA)"
                if args.tls
                else "RTMS sockets: ws:// without TLS (production is wss://: run with --tls to include it)"
            )
            print()
            sys.stdout.flush()
            streams: dict[str, int] = {}
            created: dict[str, datetime] = {}
            for n in args.sizes:
                print(f"  N={n} ...", file=sys.stderr, flush=True)
                results.append(measure_size(n, sim, gateway, streams, created, place, args))
                if gateway.poll() is not None:
                    raise BenchmarkBroke(f"the gateway exited with {gateway.returncode}:\n{tail(log)}")
            code = stop_process(gateway, timeout=60)
            if code != 0:
                print(f"WARNING: the gateway exited with {code} on SIGTERM:\n{tail(log)}")
            sim.end_all(list(meeting_uuids()))
            if args.tls and not args.skip_sdk:
                sdk = SdkResult(n=args.sdk_streams, note="skipped: the SDK comparison runs without --tls")
            elif not args.skip_sdk:
                print(f"  official SDK N={args.sdk_streams} ...", file=sys.stderr, flush=True)
                try:
                    sdk = run_sdk(sim, place.gateway, args.sdk_streams, args.sdk_threads, args, tmp)
                except BenchmarkBroke as exc:
                    sdk = SdkResult(n=args.sdk_streams, note=f"skipped: {exc}")
            report(results, baseline, sdk)
        finally:
            if gateway is not None:
                stop_process(gateway, timeout=60)
            sim.proc.stop()
            redis_flush(REDIS_URL)
    return 0


def parse_sizes(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma list of integers: {text!r}") from None
    if not values or any(v < 1 for v in values) or values != sorted(set(values)):
        raise argparse.ArgumentTypeError("sizes must be increasing positive integers")
    return values


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "One rtms_gateway (pinned to one core) holding N transcript streams from zoomsim at 2 "
            f"segments/s each. Recreates the database {DB_NAME!r} and flushes Redis db 12. "
            "Prints per N the CPU %, p50/p99 latency zoomsim send -> database row, RSS and RSS per "
            "stream, the largest N with p99 < 250 ms, the row -> ready delay, and the official SDK's "
            "CPU/RSS for information."
        ),
        epilog="Exit status: 0 measured (targets may be missed), 1 the benchmark broke, 2 bad arguments.",
    )
    parser.add_argument(
        "--sizes", type=parse_sizes, default=[100, 250, 500, 1000], help="default 100,250,500,1000"
    )
    parser.add_argument("--duration", type=positive, default=20.0, help="measured seconds per N (default 20)")
    parser.add_argument(
        "--warmup", type=positive, default=5.0, help="seconds after all are ready (default 5)"
    )
    parser.add_argument(
        "--ramp-rate", type=positive, default=50.0, help="new stream rows per second (default 50)"
    )
    parser.add_argument("--skip-sdk", action="store_true", help="do not run the official SDK comparison")
    parser.add_argument(
        "--tls", action="store_true", help="RTMS sockets over wss:// with verification (as against Zoom)"
    )
    parser.add_argument("--sdk-streams", type=int, default=100, help="streams for the SDK (default 100)")
    parser.add_argument("--sdk-threads", type=int, default=4, help="SDK EventLoopPool threads (default 4)")
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
