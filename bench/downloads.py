#!/usr/bin/env python
"""Downloads benchmark (issue #20): heavy downloads must not grow the web process nor slow Zoom's webhooks.

One daphne process serves both, as in production. Per run:

1. **Webhooks alone**: signed ``meeting.started`` webhooks at concurrency 5 for ``--duration`` seconds;
   their p99 is the baseline.
2. **Webhooks during downloads**: 10 API clients download at once, each in a loop, a 300 MB WAV and a JSON
   export of a 100 000-segment transcript (bytes counted, not kept), while the same webhook load runs
   again. One request beyond a client's cap (``DOWNLOADS_PER_CLIENT``) must be answered 429.

Printed per run and as the median of ``--runs`` (3): daphne's peak RSS growth over its RSS just before the
downloads (target < 50 MB; sampled from /proc every 50 ms) and the webhook p99 during the downloads over
the p99 without them (target <= 2). daphne is pinned to one CPU and the load generator to another, as in
bench/ingest.py.

Exit status: 0 measured (targets may still be missed), 1 the benchmark broke, 3 not a valid measurement
(a download or webhook failed, or the request over the cap was not refused). docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.common import (  # noqa: E402
    BenchmarkBroke,
    database_url,
    django_setup,
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
from bench.ingest import WEBHOOK_SECRET, pinning, server_errors, wait_healthy, webhook_request  # noqa: E402

DB_NAME = "rtms_bench_downloads"
REDIS_URL = "redis://127.0.0.1:6379/10"
REGION = "eu-central"
CLIENTS = 10
SEGMENTS = 100_000
WAV_MB = 300
CAP = 2
WEBHOOK_CONCURRENCY = 5
# Targets (the issue).
MAX_RSS_GROWTH_MB, MAX_P99_RATIO = 50.0, 2.0


def bench_env(media_root: Path) -> dict[str, str]:
    return production_env(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DATABASE_URL=database_url(DB_NAME),
        REDIS_URL=REDIS_URL,
        ZOOM_ACCOUNT_ID="bench-account",
        ZOOM_WEBHOOK_SECRET_TOKEN=WEBHOOK_SECRET,
        MEDIA_ROOT=str(media_root),
        DOWNLOADS_PER_CLIENT=str(CAP),
    )


# --- Data ------------------------------------------------------------------------------------------


def prepare_data(env: dict[str, str], wav_mb: int, segments: int) -> tuple[int, list[str]]:
    """A meeting in the EU with a ``wav_mb`` MB recording and ``segments`` transcript lines, and one API
    token per client. Returns (meeting id, tokens)."""
    django_setup(env)
    from django.db import connections

    from api.services import api_client_create
    from regions.models import Region
    from regions.storage import content_alias
    from rtms.gateway.audio import WavPart, audio_part_path
    from rtms.models import Meeting, RtmsStream, TranscriptSegment

    region = Region.objects.get(code=REGION)
    meeting = Meeting.objects.create(
        zoom_uuid="bench-downloads==", zoom_meeting_id=81_000_000_001, region=region
    )
    stream = RtmsStream.objects.create(rtms_stream_id="d" * 32, meeting=meeting, region=region)
    alias = content_alias(REGION)
    line = "We went through the quarterly figures and agreed to ship the release on Thursday."
    for start in range(0, segments, 5000):
        TranscriptSegment.objects.using(alias).bulk_create(
            TranscriptSegment(
                region_code=REGION,
                meeting_id=meeting.pk,
                stream_id=stream.pk,
                seq=seq,
                speaker_id=seq % 7,
                speaker_name=f"Speaker {seq % 7}",
                text=line,
                start_ms=1000 * seq,
                end_ms=1000 * seq + 900,
                language=9,
            )
            for seq in range(start + 1, min(start + 5000, segments) + 1)
        )
    # What autovacuum does after a load like this; without statistics PostgreSQL sorted a whole stream per
    # export page (115 ms instead of 1 ms).
    with connections[alias].cursor() as cursor:
        cursor.execute(f"ANALYZE {TranscriptSegment._meta.db_table}")
    part = WavPart(audio_part_path(REGION, meeting.pk, stream.pk, 1))
    block = b"\x10\x00" * (512 * 1024)  # 1 MiB of PCM
    for _ in range(wav_mb):
        part.write(block)
    part.close()
    # One token per downloading client, and one more for the request over the cap.
    tokens = [api_client_create(f"bench-dl-{n}", region_codes=[REGION])[1] for n in range(CLIENTS + 1)]
    return meeting.pk, tokens


# --- Load generator (runs in its own process, pinned) --------------------------------------------------


@dataclass
class ClientResult:
    webhook_ok: int = 0
    webhook_p99_ms: float = 0.0
    webhook_p50_ms: float = 0.0
    downloads: int = 0
    download_bytes: int = 0
    clients_served: int = 0
    over_cap_status: int = 0
    errors: dict[str, int] = field(default_factory=dict)


async def _webhooks(
    session: aiohttp.ClientSession, url: str, seconds: float, errors: Counter[str]
) -> list[float]:
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []

    async def worker() -> None:
        while time.perf_counter() < deadline:
            data, headers = webhook_request()
            started = time.perf_counter()
            try:
                async with session.post(url, data=data, headers=headers) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                errors[f"webhook {type(exc).__name__}"] += 1
                continue
            if status == 200:
                latencies.append(time.perf_counter() - started)
            else:
                errors[f"webhook HTTP {status}"] += 1

    await asyncio.gather(*(worker() for _ in range(WEBHOOK_CONCURRENCY)))
    return sorted(latencies)


async def _download(
    session: aiohttp.ClientSession, url: str, token: str, errors: Counter[str], received: list[int]
) -> int:
    """Reads the body in 1 MiB pieces, counted into ``received[0]`` as they arrive and dropped. Returns
    the status (0 when the connection failed)."""
    try:
        async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
            if response.status != 200:
                await response.read()
                return response.status
            async for piece in response.content.iter_chunked(1 << 20):
                received[0] += len(piece)
            return 200
    except (aiohttp.ClientError, TimeoutError) as exc:
        errors[f"download {type(exc).__name__}"] += 1
        return 0


async def _over_cap(session: aiohttp.ClientSession, url: str, token: str) -> int:
    """CAP downloads that are started and then held (their slots taken), and one more: its status."""
    headers = {"Authorization": f"Bearer {token}"}
    held = [await session.get(url, headers=headers) for _ in range(CAP)]
    try:
        if any(response.status != 200 for response in held):
            return -1
        async with session.get(url, headers=headers) as response:
            await response.read()
            return response.status
    finally:
        for response in held:
            response.close()  # drops the connection: the server ends those downloads, freeing the slots


async def client_main(
    base: str, meeting: int, tokens: list[str], seconds: float, downloads: bool
) -> ClientResult:
    result = ClientResult()
    errors: Counter[str] = Counter()
    timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as session:
        urls = [
            f"{base}/api/v1/meetings/{meeting}/audio/",
            f"{base}/api/v1/meetings/{meeting}/transcript/export/?format=json",
        ]
        stop = asyncio.Event()

        received: list[list[int]] = []

        async def downloader(index: int, token: str) -> None:
            counter = [0]
            received.append(counter)
            n = index  # half the clients start with the WAV, half with the export
            while not stop.is_set():
                status = await _download(
                    session,
                    urls[n % 2],
                    token,
                    errors,
                    counter,
                )
                n += 1
                if status == 200:
                    result.downloads += 1
                elif status:
                    errors[f"download HTTP {status}"] += 1

        tasks = []
        if downloads:
            *clients, capped = tokens
            tasks = [asyncio.create_task(downloader(i, token)) for i, token in enumerate(clients)]
            result.over_cap_status = await _over_cap(session, urls[0], capped)
            await asyncio.sleep(1.0)  # every client is inside a download
        latencies = await _webhooks(session, f"{base}/zoom/webhook", seconds, errors)
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        result.download_bytes = sum(counter[0] for counter in received)
        result.clients_served = sum(1 for counter in received if counter[0] > 0)
    result.webhook_ok = len(latencies)
    result.webhook_p50_ms = 1000 * percentile(latencies, 50)
    result.webhook_p99_ms = 1000 * percentile(latencies, 99)
    result.errors = dict(errors)
    return result


# --- Orchestration -----------------------------------------------------------------------------------


class RssSampler:
    """Peak VmRSS of a process, sampled from /proc every 50 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_kb, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.peak_kb = max(self.peak_kb, self.rss_kb())
            except OSError:
                return

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def __enter__(self) -> RssSampler:
        self.peak_kb = self.rss_kb()
        self._cpu_start, self._wall_start = self.cpu_seconds(), time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_share = (self.cpu_seconds() - self._cpu_start) / (time.monotonic() - self._wall_start)


@dataclass(frozen=True)
class RunResult:
    p50_alone_ms: float
    p50_during_ms: float
    p99_alone_ms: float
    p99_during_ms: float
    rss_before_mb: float
    rss_growth_mb: float
    cpu_percent: float
    downloads: int
    clients_served: int
    download_gb: float
    over_cap_status: int
    errors: dict[str, int]

    @property
    def ratio(self) -> float:
        return self.p99_during_ms / self.p99_alone_ms if self.p99_alone_ms else float("inf")


def _load(
    pin: list[str],
    env: dict[str, str],
    base: str,
    meeting: int,
    tokens: list[str],
    seconds: float,
    downloads: bool,
) -> ClientResult:
    cmd = [
        *pin,
        sys.executable,
        str(Path(__file__).resolve()),
        "--client",
        json.dumps(
            {"base": base, "meeting": meeting, "tokens": tokens, "seconds": seconds, "downloads": downloads}
        ),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 300)
    if done.returncode != 0 or not done.stdout.strip():
        raise BenchmarkBroke(f"load generator failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return ClientResult(**json.loads(done.stdout.strip().splitlines()[-1]))


def one_run(
    pin: list[str],
    env: dict[str, str],
    base: str,
    meeting: int,
    tokens: list[str],
    server: subprocess.Popen[bytes],
    seconds: float,
) -> RunResult:
    alone = _load(pin, env, base, meeting, tokens, seconds, downloads=False)
    sampler = RssSampler(server.pid)
    with sampler:
        before_kb = sampler.peak_kb
        during = _load(pin, env, base, meeting, tokens, seconds, downloads=True)
    return RunResult(
        p50_alone_ms=alone.webhook_p50_ms,
        p50_during_ms=during.webhook_p50_ms,
        p99_alone_ms=alone.webhook_p99_ms,
        p99_during_ms=during.webhook_p99_ms,
        rss_before_mb=before_kb / 1024,
        rss_growth_mb=max(0, sampler.peak_kb - before_kb) / 1024,
        cpu_percent=100 * sampler.cpu_share,
        downloads=during.downloads,
        clients_served=during.clients_served,
        download_gb=during.download_bytes / 1e9,
        over_cap_status=during.over_cap_status,
        errors={**alone.errors, **during.errors},
    )


def report(runs: list[RunResult]) -> bool:
    header = (
        "run",
        "p50 alone",
        "p50 during",
        "p99 alone",
        "p99 during",
        "p99 ratio",
        "RSS before",
        "RSS growth",
        "finished",
        "CPU",
        "GB",
        "over cap",
    )
    widths = (4, 11, 11, 11, 11, 9, 11, 11, 10, 5, 6, 9)
    print(" ".join(f"{name:>{width}}" for name, width in zip(header, widths, strict=True)))
    for n, run in enumerate(runs, start=1):
        print(
            f"{n:>4} {fmt(run.p50_alone_ms):>8} ms {fmt(run.p50_during_ms):>8} ms "
            f"{fmt(run.p99_alone_ms):>8} ms {fmt(run.p99_during_ms):>8} ms {fmt(run.ratio, 2):>9} "
            f"{fmt(run.rss_before_mb):>8} MB {fmt(run.rss_growth_mb):>8} MB {run.downloads:>10} "
            f"{fmt(run.cpu_percent, 0):>4}%"
            f"{fmt(run.download_gb, 2):>6} {run.over_cap_status:>9}"
        )
    growth = statistics.median(r.rss_growth_mb for r in runs)
    ratio = statistics.median(r.ratio for r in runs)
    print()
    print(
        f"median peak RSS growth of daphne during downloads: {fmt(growth)} MB "
        f"(target < {MAX_RSS_GROWTH_MB:g}) {verdict(growth < MAX_RSS_GROWTH_MB)}"
    )
    print(
        f"median webhook p99 during downloads / without: {fmt(ratio, 2)} "
        f"(target <= {MAX_P99_RATIO:g}) {verdict(ratio <= MAX_P99_RATIO)}"
    )
    valid = True
    for n, run in enumerate(runs, start=1):
        if run.over_cap_status != 429:
            print(f"INVALID run {n}: the request over the cap answered {run.over_cap_status}, not 429")
            valid = False
        if run.errors:
            print(f"INVALID run {n}: errors {run.errors}")
            valid = False
        if run.clients_served < CLIENTS:
            print(f"INVALID run {n}: only {run.clients_served} of {CLIENTS} clients received data")
            valid = False
    return valid


def run_benchmark(args: argparse.Namespace) -> int:
    server_pin, client_pin, placement = pinning()
    with tempfile.TemporaryDirectory(prefix="bench-downloads-") as tmp:
        media = Path(tmp) / "media"
        env = bench_env(media)
        reset_database(DB_NAME)
        redis_flush(REDIS_URL)
        migrate_all(env)
        print(
            f"preparing: a {args.wav_mb} MB WAV and a {args.segments} segment transcript ...",
            file=sys.stderr,
            flush=True,
        )
        meeting, tokens = prepare_data(env, args.wav_mb, args.segments)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
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
            wait_healthy(base, server, log)
            print(placement)
            print(
                f"{CLIENTS} API clients, each downloading in a loop a {args.wav_mb} MB WAV and a JSON "
                f"export of {args.segments} segments; webhooks at concurrency {WEBHOOK_CONCURRENCY} for "
                f"{args.duration:g} s alone, then during the downloads; DOWNLOADS_PER_CLIENT={CAP}"
            )
            print()
            runs = []
            for n in range(args.runs):
                print(f"  run {n + 1} of {args.runs} ...", file=sys.stderr, flush=True)
                runs.append(one_run(client_pin, env, base, meeting, tokens, server, args.duration))
                if server.poll() is not None:
                    raise BenchmarkBroke(f"daphne exited with {server.returncode}:\n{tail(log)}")
            valid = report(runs)
            if not valid and (errors := server_errors(log)):
                print("daphne logged:")
                print("\n".join(errors))
        finally:
            stop_process(server, timeout=10)
            redis_flush(REDIS_URL)
    return 0 if valid else 3


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of webhooks per phase")
    parser.add_argument("--wav-mb", type=int, default=WAV_MB)
    parser.add_argument("--segments", type=int, default=SEGMENTS)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runs < 1 or args.duration <= 0 or args.wav_mb < 1 or args.segments < 1:
        parser.error("--runs, --duration, --wav-mb and --segments must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.client:
        spec = json.loads(args.client)
        result = asyncio.run(
            client_main(spec["base"], spec["meeting"], spec["tokens"], spec["seconds"], spec["downloads"])
        )
        print(json.dumps(asdict(result)))
        return 0
    try:
        return run_benchmark(args)
    except BenchmarkBroke as exc:
        print(f"benchmark broke: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
