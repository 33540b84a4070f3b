#!/usr/bin/env python
"""Live page fan-out benchmark: 200 WebSocket clients watching one meeting that says 5 segments/s.

One zoomsim (time scale 1.0), one ``manage.py rtms_gateway --region eu-central`` and one daphne, production
timings, DEBUG off. The meeting is a zoomsim meeting whose RTMS its host starts; this orchestrator writes the
``Meeting`` and ``RtmsStream`` rows the worker would write (as bench/gateway.py does), so no webhook or
worker takes part. ``--clients`` WebSocket clients (one asyncio loop in this process, one signed-in staff
session) connect to ``ws/live/<meeting>/``; once all of them are caught up, every segment each client
receives during ``--duration`` seconds is timed against:

- the segment row's ``created_at`` in the region database (``clock_timestamp()`` at INSERT; the batch
  commits right after), i.e. database commit -> client receive; target p99 < 100 ms;
- zoomsim's send of that segment (ledger ``rtms.segment_sent`` ``at``), i.e. zoomsim send -> client
  receive; target p99 < 400 ms.

Same machine, same clock. Exit status: 0 measured (targets may be missed), 1 the benchmark broke,
2 bad arguments. docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import requests

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
    production_env,
    redis_flush,
    reset_database,
    stop_process,
    tail,
    verdict,
    wait_for,
)
from bench.gateway import HOST_DOMAIN, Sim, insert_stream  # noqa: E402

DB_NAME = "rtms_bench_fanout"
DATABASE_URL = database_url(DB_NAME)
REDIS_URL = "redis://127.0.0.1:6379/9"
COMMIT_P99_MS, SEND_P99_MS = 100.0, 400.0  # issue #8 item 6
SEGMENTS_PER_S = 5
USERNAME, PASSWORD = "bench-viewer", "bench-viewer-password-1"


def bench_env() -> dict[str, str]:
    return production_env(
        **CREDENTIALS,
        DJANGO_SETTINGS_MODULE="controlplane.settings",
        TIMING_PROFILE="production",
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
    )


def create_viewer() -> None:
    from django.contrib.auth.models import User

    User.objects.filter(username=USERNAME).delete()
    User.objects.create_superuser(USERNAME, password=PASSWORD)


def sign_in(base: str) -> str:
    """A session cookie from the admin's sign-in form (as a browser gets it)."""
    session = requests.Session()
    page = session.get(f"{base}/admin/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if token is None:
        raise BenchmarkBroke("no CSRF token on the sign-in page")
    answer = session.post(
        f"{base}/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": token.group(1), "username": USERNAME, "password": PASSWORD},
        headers={"Referer": f"{base}/admin/login/"},
        timeout=10,
        allow_redirects=False,
    )
    if answer.status_code != 302 or "sessionid" not in session.cookies:
        raise BenchmarkBroke(f"sign-in failed: HTTP {answer.status_code}")
    return f"sessionid={session.cookies['sessionid']}"


def stored_created_at(stream_pk: int) -> dict[int, datetime]:
    from regions.storage import content_alias
    from rtms.models import TranscriptSegment

    rows = TranscriptSegment.objects.using(content_alias(REGION)).filter(stream_id=stream_pk)
    return dict(rows.values_list("seq", "created_at"))


class Watcher:
    """One page's socket: records (stream, seq) -> receive time of live segments, and duplicates."""

    def __init__(self) -> None:
        self.caught_up = asyncio.Event()
        self.received: dict[tuple[int, int], float] = {}
        self.texts: dict[tuple[int, int], str] = {}
        self.duplicates = 0
        self.error: str | None = None

    async def run(self, url: str, cookie: str, origin: str, stop: asyncio.Event) -> None:
        from websockets.asyncio.client import connect
        from websockets.typing import Origin

        try:
            async with connect(
                url, additional_headers={"Cookie": cookie}, origin=Origin(origin), open_timeout=30
            ) as ws:
                while not stop.is_set():
                    try:
                        raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
                    except TimeoutError:
                        continue
                    at = time.time()
                    message = json.loads(raw)
                    if message["type"] == "caught_up":
                        self.caught_up.set()
                    elif message["type"] == "segments" and self.caught_up.is_set():
                        for s in message["segments"]:
                            key = (int(s["stream_id"]), int(s["seq"]))
                            if key in self.received:
                                self.duplicates += 1
                            self.received.setdefault(key, at)
                            self.texts[key] = s["text"]
        except Exception as exc:  # reported, not raised: one broken client must not hide the others
            self.error = f"{type(exc).__name__}: {exc}"
            self.caught_up.set()


async def watch(
    clients: int, url: str, cookie: str, origin: str, warmup: float, duration: float
) -> tuple[list[Watcher], float, float]:
    stop = asyncio.Event()
    watchers = [Watcher() for _ in range(clients)]
    tasks = [asyncio.create_task(w.run(url, cookie, origin, stop)) for w in watchers]
    await asyncio.wait_for(asyncio.gather(*(w.caught_up.wait() for w in watchers)), timeout=120)
    broken = [w.error for w in watchers if w.error]
    if broken:
        stop.set()
        raise BenchmarkBroke(f"{len(broken)} clients failed, e.g. {broken[0]}")
    await asyncio.sleep(warmup)
    start = time.time()
    for w in watchers:  # only what arrives inside the window counts
        w.received.clear()
        w.texts.clear()
    await asyncio.sleep(duration)
    end = time.time()
    stop.set()
    await asyncio.gather(*tasks)
    return watchers, start, end


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0)
    args = parser.parse_args(argv)
    if args.clients < 1 or args.duration <= 0:
        parser.error("--clients >= 1 and --duration > 0")

    env = bench_env()
    tmp = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    procs: list[subprocess.Popen[bytes]] = []
    sim: Sim | None = None
    try:
        reset_database(DB_NAME)
        redis_flush(REDIS_URL)
        migrate_all(env)
        django_setup(env)
        configure_product(HOST_DOMAIN)
        create_viewer()
        sim = Sim(env, tmp)
        sim.start()
        port = int(sim.client.base_url.rsplit(":", 1)[1]) + 1
        base = f"http://127.0.0.1:{port}"
        with open(tmp / "web.log", "wb") as log:
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "daphne",
                        "-b",
                        "127.0.0.1",
                        "-p",
                        str(port),
                        "controlplane.asgi:application",
                    ],
                    cwd=REPO,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
            )
        with open(tmp / "gateway.log", "wb") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "rtms_gateway", "--region", REGION],
                    cwd=REPO,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
            )
        wait_for(lambda: _answers(f"{base}/readyz"), timeout=60, interval=0.5, what="daphne /readyz")
        cookie = sign_in(base)

        lines = int((args.duration + args.warmup + 120) * SEGMENTS_PER_S)
        meeting = sim.client.create_meeting(
            f"host@{HOST_DOMAIN}",
            topic="fan-out",
            rtms="api",
            transcript=[{"speaker": f"Speaker {i % 3}", "text": f"fanout line {i}"} for i in range(lines)],
            segment_interval_ms=1000 // SEGMENTS_PER_S,
            speak_from="first_client",
        )
        mark = sim.latest_seq()
        sim.client.host_rtms(meeting["meeting_uuid"], "start")
        started = wait_for(
            lambda: [
                e
                for e in sim.ledger("event.emitted", since=mark)
                if e.get("event") == "meeting.rtms_started"
                and e.get("meeting_uuid") == meeting["meeting_uuid"]
            ],
            timeout=30,
            interval=0.3,
            what="rtms_started",
        )[0]
        payload = {
            **started["payload"],
            "event_ts": int(started.get("event_ts") or 0),
            "host_email": f"host@{HOST_DOMAIN}",
        }
        stream_pk, _ = insert_stream(payload)
        from rtms.models import RtmsStream

        meeting_pk = RtmsStream.objects.get(pk=stream_pk).meeting_id
        wait_for(lambda: stored_created_at(stream_pk), timeout=60, interval=0.5, what="first segments stored")

        url = f"ws://127.0.0.1:{port}/ws/live/{meeting_pk}/"
        window_mark = sim.latest_seq()
        watchers, start, end = asyncio.run(watch(args.clients, url, cookie, base, args.warmup, args.duration))
        time.sleep(1)
        sent = {
            e["text"]: parse_at(e["at"]).timestamp()
            for e in sim.ledger("rtms.segment_sent", since=window_mark)
            if e.get("delivered") and e.get("meeting_uuid") == meeting["meeting_uuid"]
        }
        committed = {seq: at.timestamp() for seq, at in stored_created_at(stream_pk).items()}
        for proc in procs:
            if proc.poll() is not None:
                raise BenchmarkBroke(f"a product process exited with {proc.returncode}")
    except BenchmarkBroke as exc:
        print(f"BROKEN: {exc}", file=sys.stderr)
        for name in ("web.log", "gateway.log"):
            print(f"--- {name}\n{tail(tmp / name)}", file=sys.stderr)
        return 1
    finally:
        for proc in procs:
            stop_process(proc)
        if sim is not None and sim.proc.proc is not None:
            sim.proc.stop()
        redis_flush(REDIS_URL)

    from_commit: list[float] = []
    from_send: list[float] = []
    per_client = Counter[int]()
    for i, w in enumerate(watchers):
        for key, received_at in w.received.items():
            per_client[i] += 1
            if key[1] in committed:
                from_commit.append((received_at - committed[key[1]]) * 1000)
            text = w.texts.get(key)
            if text in sent:
                from_send.append((received_at - sent[text]) * 1000)
    from_commit.sort()
    from_send.sort()
    segments = max(per_client.values()) if per_client else 0
    duplicates = sum(w.duplicates for w in watchers)
    short = sum(1 for i in range(len(watchers)) if per_client[i] < segments)
    print(
        f"fan-out: {len(watchers)} clients on one meeting, {end - start:.1f} s window, zoomsim time scale 1.0"
    )
    rate = segments / (end - start)
    print(
        f"  segments per client: {segments} ({rate:.1f}/s); clients short: {short}; duplicates: {duplicates}"
    )
    print(f"  samples: {len(from_commit)} (commit -> client), {len(from_send)} (send -> client)")
    for label, values, limit in (
        ("database commit -> client", from_commit, COMMIT_P99_MS),
        ("zoomsim send -> client", from_send, SEND_P99_MS),
    ):
        p50, p99 = percentile(values, 50), percentile(values, 99)
        ok = verdict(bool(values) and p99 < limit)
        print(f"  {label:<26} p50 {fmt(p50)} ms  p99 {fmt(p99)} ms  (target p99 < {limit:.0f} ms)  {ok}")
    return 0


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False


if __name__ == "__main__":
    sys.exit(main())
