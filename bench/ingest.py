#!/usr/bin/env python
"""Ingest benchmark: signed Zoom webhooks (``POST /zoom/webhook``) against daphne on PostgreSQL.

The same run measures a bare sync Django view (``/bench/bare``, bench/urls.py) served the same way, so the
cost of signature verification + inbox dedupe (INSERT ... ON CONFLICT, a durable commit) + handing the
row id to the process's route publisher shows as ratios against it. daphne is pinned to one core and the
load generator (this file, in client mode, asyncio + aiohttp) to another; PostgreSQL and Redis run where
the kernel puts them.

Steps: recreate the database ``rtms_bench``, ``manage.py migrate_all``, flush Redis db 14, start daphne with
DJANGO_SETTINGS_MODULE=bench.settings, then per concurrency level: bare, then webhook (warm-up, then a
timed phase). No Celery worker runs: enqueued tasks wait in Redis db 14, which is flushed at the end.

Exit status: 0 when the measurement ran (targets may still be missed: it is a measurement), 1 when the
benchmark itself broke (setup, daphne, load generator), 2 bad arguments, 3 when the run is not a valid
measurement (non-200 answers, or inbox rows stored differ from webhooks answered 200). docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp
import psycopg
import redis

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.common import (  # noqa: E402
    BenchmarkBroke,
    database_url,
    fmt,
    free_port,
    migrate_all,
    percentile,
    production_env,
    redis_flush,
    reset_database,
    stop_process,
    tail,
    verdict,
)

DB_NAME = "rtms_bench"
DATABASE_URL = database_url(DB_NAME)
REDIS_URL = "redis://127.0.0.1:6379/14"
WEBHOOK_SECRET = "bench-webhook-secret-token"
CELERY_QUEUE = "control"  # where rtms.route_event goes (CELERY_TASK_DEFAULT_QUEUE)
PATHS = {"bare": "/bench/bare", "webhook": "/zoom/webhook"}

# Targets (the issue): at concurrency 50 the webhook keeps at least half the bare view's throughput and
# at most twice its p99; at concurrency 5 its p99 stays under 50 ms.
MIN_THROUGHPUT_RATIO, MAX_P99_RATIO, MAX_P99_MS_AT_5 = 0.5, 2.0, 50.0


@dataclass
class PhaseResult:
    path: str
    concurrency: int
    requests: int = 0  # answered (any status) or failed in the timed phase
    ok: int = 0  # answered 200 in the timed phase
    warmup_ok: int = 0  # answered 200 during warm-up (they are stored too)
    elapsed_s: float = 0.0
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    errors: dict[str, int] = field(default_factory=dict)  # description -> count, warm-up included

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0


# --- Load generator (runs in its own process, pinned to its own core) --------------------------------

_seq = itertools.count(1)
_last_ts = 0


def _event_ts() -> int:
    """Milliseconds, strictly increasing within the process."""
    global _last_ts
    _last_ts = max(_last_ts + 1, time.time_ns() // 1_000_000)
    return _last_ts


def sign(body: bytes, timestamp: str) -> str:
    """Zoom's ``x-zm-signature``, computed here independently of the product's signing code."""
    digest = hmac.new(WEBHOOK_SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    return "v0=" + digest.hexdigest()


def webhook_request() -> tuple[bytes, dict[str, str]]:
    """A distinct, validly signed ``meeting.started`` (shape of tests/integration/conftest.py)."""
    n = next(_seq)
    meeting_uuid = base64.b64encode(uuid.uuid4().bytes).decode()  # Zoom-like: may carry / + =
    body = {
        "event": "meeting.started",
        "event_ts": _event_ts(),
        "payload": {
            "account_id": "bench-account",
            "object": {
                "id": str(80_000_000_000 + n),
                "uuid": meeting_uuid,
                "host_id": "host-bench",
                "host_email": "host@bench.example.com",
                "topic": f"Benchmark meeting {n}",
                "type": 2,
                "start_time": "2026-11-20T10:00:00Z",
                "timezone": "UTC",
                "duration": 60,
            },
        },
    }
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "x-zm-request-timestamp": timestamp,
        "x-zm-signature": sign(raw, timestamp),
    }
    return raw, headers


def bare_request() -> tuple[bytes, dict[str, str]]:
    return b"", {}


async def _drive(
    session: aiohttp.ClientSession,
    url: str,
    make: Callable[[], tuple[bytes, dict[str, str]]],
    concurrency: int,
    seconds: float,
    latencies: list[float],
    errors: Counter[str],
) -> tuple[int, float]:
    """``concurrency`` workers post back to back for ``seconds``; returns (requests, elapsed seconds)."""
    deadline = time.perf_counter() + seconds
    counts = [0] * concurrency

    async def worker(index: int) -> None:
        while time.perf_counter() < deadline:
            data, headers = make()  # built and signed before the clock starts
            counts[index] += 1
            started = time.perf_counter()
            try:
                async with session.post(url, data=data, headers=headers) as response:
                    text = await response.text()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                errors[f"{type(exc).__name__}: {exc}"[:160]] += 1
                continue
            if status == 200:
                latencies.append(time.perf_counter() - started)
            else:
                errors[f"HTTP {status}: {text.strip()}"[:160]] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return sum(counts), time.perf_counter() - started


async def run_client(url: str, path: str, concurrency: int, duration: float, warmup: float) -> PhaseResult:
    make = webhook_request if path == "webhook" else bare_request
    result = PhaseResult(path=path, concurrency=concurrency)
    errors: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(limit=concurrency)  # one kept-alive connection per worker
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        warm: list[float] = []
        if warmup > 0:
            await _drive(session, url, make, concurrency, warmup, warm, errors)
        result.warmup_ok = len(warm)
        latencies: list[float] = []
        result.requests, result.elapsed_s = await _drive(
            session, url, make, concurrency, duration, latencies, errors
        )
    latencies.sort()
    result.ok = len(latencies)
    result.p50_ms = 1000 * percentile(latencies, 50)  # latencies in seconds, figures in milliseconds
    result.p99_ms = 1000 * percentile(latencies, 99)
    result.errors = dict(errors)
    return result


# --- Orchestration ---------------------------------------------------------------------------------


def bench_env() -> dict[str, str]:
    """A production-like environment (bench/common.py): durable commits, the bench URL conf."""
    return production_env(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        ZOOM_ACCOUNT_ID="bench-account",  # migrate creates its ZoomAccount row, as in production
        ZOOM_WEBHOOK_SECRET_TOKEN=WEBHOOK_SECRET,
    )


def durability() -> tuple[str, str]:
    """(synchronous_commit, fsync) as the server reports them for ``rtms_bench``."""
    with psycopg.connect(DATABASE_URL.replace("postgres://", "postgresql://", 1)) as conn:
        sync_row = conn.execute("SHOW synchronous_commit").fetchone()
        fsync_row = conn.execute("SHOW fsync").fetchone()
    return (str(sync_row[0]) if sync_row else "?"), (str(fsync_row[0]) if fsync_row else "?")


def inbox_rows() -> int:
    with psycopg.connect(DATABASE_URL.replace("postgres://", "postgresql://", 1)) as conn:
        row = conn.execute("SELECT count(*) FROM rtms_inboundevent").fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class Queued:
    messages: int  # Celery messages waiting
    event_ids: int  # inbox row ids they carry (rtms.route_events carries several)


def queued_tasks() -> Queued:
    """What waits in the Celery queue (kombu's Redis transport: one list per queue/priority)."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        keys = [k for k in client.scan_iter(match=f"{CELERY_QUEUE}*") if client.type(k) == b"list"]
        messages = [m for k in keys for m in client.lrange(k, 0, -1)]
    finally:
        client.close()
    ids = 0
    for message in messages:
        _args, kwargs, _embed = json.loads(base64.b64decode(json.loads(message)["body"]))
        ids += len(kwargs["event_ids"]) if "event_ids" in kwargs else 1
    return Queued(messages=len(messages), event_ids=ids)


def settled_queue(timeout_s: float = 10.0) -> Queued:
    """The queue once daphne's route publisher has sent what it held (two equal reads 0.5 s apart)."""
    deadline = time.monotonic() + timeout_s
    previous = queued_tasks()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        current = queued_tasks()
        if current == previous:
            return current
        previous = current
    return previous


def pinning() -> tuple[list[str], list[str], str]:
    """``taskset`` prefixes for (server, client) and a description of the placement."""
    cpus = sorted(os.sched_getaffinity(0))
    if shutil.which("taskset") is None:
        return [], [], "WARNING: taskset not found; server and load generator share the cores"
    if len(cpus) < 2:
        return [], [], "WARNING: fewer than 2 usable CPUs; server and load generator share the core"
    server, client = cpus[0], cpus[1]
    return (
        ["taskset", "-c", str(server)],
        ["taskset", "-c", str(client)],
        f"daphne on CPU {server}, load generator on CPU {client} (taskset); PostgreSQL and Redis unpinned",
    )


def server_errors(log: Path, limit: int = 5) -> list[str]:
    """The most frequent ERROR records of daphne's JSON log: event and the exception's last line."""
    found: Counter[str] = Counter()
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("level") in ("ERROR", "CRITICAL"):
            last = str(record.get("exc", "")).strip().splitlines()[-1:] or [""]
            found[f"{record.get('event', '?')} {last[0]}"[:200]] += 1
    return [f"{count:>6} x {text}" for text, count in found.most_common(limit)]


def wait_healthy(base_url: str, server: subprocess.Popen[bytes], log: Path, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchmarkBroke(f"daphne exited with {server.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise BenchmarkBroke(f"daphne did not answer /healthz within {timeout_s:.0f} s:\n{tail(log)}")


def run_phase(
    prefix: list[str],
    env: dict[str, str],
    base_url: str,
    path: str,
    concurrency: int,
    args: argparse.Namespace,
) -> PhaseResult:
    cmd = [
        *prefix,
        sys.executable,
        str(Path(__file__).resolve()),
        "--client-url",
        base_url + PATHS[path],
        "--client-path",
        path,
        "--concurrency",
        str(concurrency),
        "--duration",
        str(args.duration),
        "--warmup",
        str(args.warmup),
    ]
    done = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=args.duration + args.warmup + 120
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise BenchmarkBroke(f"load generator failed ({done.returncode}):\n{done.stderr[-3000:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return PhaseResult(**data)


def report(results: list[PhaseResult], rows: int, queued: Queued) -> bool:
    """Print the table, ratios and checks; returns whether the run is a valid measurement."""
    row = "{:<8} {:>11} {:>9} {:>6} {:>9} {:>7} {:>7}".format
    print(row("path", "concurrency", "requests", "errors", "events/s", "p50 ms", "p99 ms"))
    for r in results:
        rate = f"{r.rate:.1f}"
        print(row(r.path, r.concurrency, r.requests, r.error_count, rate, fmt(r.p50_ms), fmt(r.p99_ms)))
    by = {(r.path, r.concurrency): r for r in results}
    print()
    bare50, hook50, hook5 = by.get(("bare", 50)), by.get(("webhook", 50)), by.get(("webhook", 5))
    if bare50 and hook50 and bare50.rate > 0 and bare50.p99_ms > 0:
        throughput = hook50.rate / bare50.rate
        p99 = hook50.p99_ms / bare50.p99_ms
        print(
            f"c=50 throughput webhook/bare: {throughput:.2f} (target >= {MIN_THROUGHPUT_RATIO:.2f}) "
            f"{verdict(throughput >= MIN_THROUGHPUT_RATIO)}"
        )
        print(
            f"c=50 p99 webhook/bare:        {p99:.2f} (target <= {MAX_P99_RATIO:.2f}) "
            f"{verdict(p99 <= MAX_P99_RATIO)}"
        )
    else:
        print("c=50 ratios: n/a (concurrency 50 not measured)")
    if hook5:
        print(
            f"c=5  p99 webhook:             {fmt(hook5.p99_ms)} ms (target < {MAX_P99_MS_AT_5:.0f} ms) "
            f"{verdict(hook5.p99_ms < MAX_P99_MS_AT_5)}"
        )
    else:
        print("c=5  p99 webhook: n/a (concurrency 5 not measured)")

    answered = sum(r.ok + r.warmup_ok for r in results if r.path == "webhook")
    rows_ok = rows == answered
    print()
    print(
        f"inbox rows stored: {rows}; webhooks answered 200 (warm-up included): {answered} "
        f"-> {'OK' if rows_ok else 'MISMATCH'}"
    )
    print(
        f"route tasks waiting in Redis queue {CELERY_QUEUE!r}: {queued.event_ids} events in "
        f"{queued.messages} messages"
        f"{'' if queued.event_ids == rows else ' (differs from inbox rows: some enqueues failed?)'}"
    )
    errors: Counter[str] = Counter()
    for r in results:
        errors.update({f"{r.path} c={r.concurrency}: {k}": v for k, v in r.errors.items()})
    if errors:
        print(f"ERRORS ({sum(errors.values())}; this run is not a clean measurement):")
        for description, count in errors.most_common(10):
            print(f"  {count:>6} x {description}")
    return rows_ok and not errors


def run_benchmark(args: argparse.Namespace, concurrencies: list[int]) -> int:
    server_pin, client_pin, placement = pinning()
    env = bench_env()
    reset_database(DB_NAME)
    synchronous_commit, fsync = durability()
    redis_flush(REDIS_URL)
    migrate_all(env)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        log = Path(tmp) / "daphne.log"
        with log.open("wb") as log_file:
            server = subprocess.Popen(
                [*server_pin, "daphne", "-b", "127.0.0.1", "-p", str(port), "controlplane.asgi:application"],
                cwd=REPO,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_healthy(base_url, server, log)
            print(placement)
            durable = synchronous_commit == "on" and fsync == "on"
            print(
                f"PostgreSQL synchronous_commit={synchronous_commit} fsync={fsync}"
                f"{'' if durable else '  WARNING: commits are not durable, unlike production'}"
            )
            print("database connections: product defaults (a psycopg pool per process)")
            print(f"{args.warmup:g} s warm-up + {args.duration:g} s per phase, keep-alive connections")
            print()
            results: list[PhaseResult] = []
            for concurrency in concurrencies:
                for path in ("bare", "webhook"):
                    sys.stdout.flush()
                    print(f"  running {path} c={concurrency} ...", file=sys.stderr, flush=True)
                    results.append(run_phase(client_pin, env, base_url, path, concurrency, args))
                    if server.poll() is not None:
                        raise BenchmarkBroke(f"daphne exited with {server.returncode}:\n{tail(log)}")
            valid = report(results, inbox_rows(), settled_queue())
            if not valid and (errors := server_errors(log)):
                print("daphne logged:")
                print("\n".join(errors))
        finally:
            stop_process(server, timeout=10)
            redis_flush(REDIS_URL)
    return 0 if valid else 3


def parse_concurrency(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma list of integers: {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("concurrency levels must be positive integers")
    return values


def positive_seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError("seconds must be >= 0")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Signed Zoom webhooks (POST /zoom/webhook: verify + inbox dedupe + enqueue) against daphne on "
            "PostgreSQL with durable commits, next to a bare Django view served the same way. Recreates the "
            f"database {DB_NAME!r} and flushes Redis db 14. Prints requests, errors, events/s, p50/p99 per "
            "phase, the webhook/bare ratios at concurrency 50 and PASS/FAIL per target."
        ),
        epilog=(
            "Exit status: 0 measured (targets may be missed), 1 the benchmark broke, 2 bad arguments, "
            "3 not a valid measurement (non-200 answers or inbox rows != webhooks answered 200)."
        ),
    )
    parser.add_argument(
        "--duration", type=positive_seconds, default=10.0, help="seconds measured per phase (default 10)"
    )
    parser.add_argument(
        "--warmup",
        type=positive_seconds,
        default=2.0,
        help="unmeasured seconds before each phase, same path and concurrency (default 2)",
    )
    parser.add_argument(
        "--concurrency",
        type=parse_concurrency,
        default=[5, 50],
        help="comma list of concurrent clients; each runs bare then webhook (default 5,50)",
    )
    # Client mode: this file re-runs itself, pinned to its own core, as the load generator of one phase.
    parser.add_argument("--client-url", help=argparse.SUPPRESS)
    parser.add_argument("--client-path", choices=sorted(PATHS), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.client_url:
        result = asyncio.run(
            run_client(args.client_url, args.client_path, args.concurrency[0], args.duration, args.warmup)
        )
        print(json.dumps(asdict(result)))
        return 0
    try:
        return run_benchmark(args, args.concurrency)
    except BenchmarkBroke as exc:
        print(f"BENCHMARK BROKE: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
