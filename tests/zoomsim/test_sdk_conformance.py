"""Conformance: Zoom's official `rtms` SDK (PyPI rtms==1.1.0) against zoomsim's RTMS servers.

The SDK runs in a subprocess with its own working directory (it writes ./logs/ and may abort while
exiting), so the test judges only by the JSON lines the script wrote before exiting (to its own file:
the SDK logs to stdout). The repository has its own `rtms` package; the subprocess runs from the temp
directory without PYTHONPATH, so `import rtms` finds the SDK.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.eventually import eventually
from tests.requirements import skip_or_fail
from tests.zoomsim.conftest import RTMS_APP, base_config
from zoomsim.testing import SimServer

SDK_SCRIPT = r"""
import json, os, sys, threading, time
import rtms

args = json.load(open(sys.argv[1]))
done = threading.Event()
lock = threading.Lock()
events = open(args["events_file"], "a", encoding="utf-8")

def out(**kw):
    # Our own file: the SDK's logs interleave with stdout.
    kw["at"] = time.time()
    with lock:
        events.write(json.dumps(kw) + "\n")
        events.flush()

client = rtms.Client()

@client.on_join_confirm
def _joined(reason):
    out(event="join", reason=reason)

@client.on_transcript_data
def _transcript(data, size, timestamp, metadata):
    out(event="transcript", text=bytes(data).decode("utf-8"), size=size, timestamp=timestamp,
        user_id=metadata.userId, user_name=metadata.userName)

@client.on_leave
def _left(reason):
    out(event="leave", reason=reason)
    done.set()

client.join(meeting_uuid=args["meeting_uuid"], rtms_stream_id=args["rtms_stream_id"],
            server_urls=args["server_urls"])
out(event="joining")
done.wait(args["timeout"])
out(event="exit", left=done.is_set())
os._exit(0)
"""

SCRIPT = [
    {"speaker": "Ada Lovelace", "text": "Good morning, everyone."},
    {"speaker": "Grace Hopper", "text": "Let's start with the release."},
    {"speaker": "Ada Lovelace", "text": "¿Qué tal el despliegue?", "language": "es"},
    {"speaker": "Alan Turing", "text": "Die Tests sind grün.", "language": "de"},
    {"speaker": "Grace Hopper", "text": "Great, ship it."},
]


def sdk_available(python: str, cwd: str) -> str | None:
    """None when the official SDK imports in a clean subprocess, else the reason it does not."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = subprocess.run(
        [python, "-c", "import rtms, rtms._rtms; print(rtms.__file__)"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0:
        return (
            "Zoom's official rtms SDK is not installed (wheels exist only for CPython 3.10-3.13 on "
            f"linux x86_64 glibc>=2.34 and macOS arm64): {probe.stderr.strip()[-300:]}"
        )
    if "site-packages" not in probe.stdout and "dist-packages" not in probe.stdout:
        return f"`import rtms` does not resolve to the SDK: {probe.stdout.strip()}"
    return None


@pytest.fixture
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="zoomsim-sdk-") as d:
        (Path(d) / "logs").mkdir()
        yield Path(d)


def run_sdk(
    workdir: Path, payload: dict[str, Any], timeout: float, ca_file: str | None = None
) -> subprocess.Popen[bytes]:
    (workdir / "sdk_client.py").write_text(SDK_SCRIPT)
    args = {
        "meeting_uuid": payload["meeting_uuid"],
        "rtms_stream_id": payload["rtms_stream_id"],
        "server_urls": payload["server_urls"],
        "timeout": timeout,
        "events_file": str(workdir / "events.jsonl"),
    }
    (workdir / "args.json").write_text(json.dumps(args))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        ZM_RTMS_CLIENT=RTMS_APP.client_id,
        ZM_RTMS_SECRET=RTMS_APP.client_secret,
        ZM_RTMS_LOG_LEVEL="info",
    )
    if ca_file is not None:
        env["ZM_RTMS_CA"] = ca_file  # the SDK always verifies wss:// certificates
    with open(workdir / "sdk.out", "wb") as log:  # a file, not a pipe: the SDK can log a lot
        return subprocess.Popen(
            [sys.executable, "sdk_client.py", "args.json"],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def transcripts_printed(workdir: Path) -> int:
    return sum(1 for ln in printed(workdir) if ln["event"] == "transcript")


def printed(workdir: Path) -> list[dict[str, Any]]:
    """The complete JSON lines the SDK script wrote (a crash may leave a partial last line)."""
    path = workdir / "events.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


@pytest.mark.timeout(90)
@pytest.mark.parametrize("transport", ["ws", "wss"])
def test_official_sdk_receives_every_segment_and_the_meeting_end(workdir: Path, transport: str) -> None:
    reason = sdk_available(sys.executable, str(workdir))
    if reason is not None:
        skip_or_fail(reason)  # on CI the SDK is installed: missing, it is a broken setup
    tls = {"tls_dir": str(workdir / "tls")} if transport == "wss" else {}
    # Time scale 0.1: keep-alives every 1 s (the SDK must answer them); 30 s (real) to connect.
    with SimServer(base_config(time_scale=0.1, rtms_connect_window_s=300.0, **tls)) as server:
        c = server.client
        m = c.create_meeting(
            "conformance@example.com",
            rtms="auto",
            transcript=SCRIPT,
            segment_interval_ms=1500,
            speak_from="first_client",
        )
        uuid = m["meeting_uuid"]
        started = c.wait_for("event.emitted", event="meeting.rtms_started", meeting_uuid=uuid, timeout=10)
        payload = started[0]["payload"]
        assert payload["server_urls"].startswith(f"{transport}://")
        proc = run_sdk(workdir, payload, timeout=45, ca_file=server.sim.tls_ca_file)
        try:
            segments = c.wait_for(
                "rtms.segment_sent", count=len(SCRIPT), timeout=40, meeting_uuid=uuid, interval=0.1
            )
            # Every segment's callback, unless the SDK died first. A timeout is left to the assertions
            # below, which say what is missing.
            with contextlib.suppress(AssertionError):
                eventually(
                    lambda: proc.poll() is not None or transcripts_printed(workdir) >= len(SCRIPT),
                    timeout=10,
                    what="the SDK's callback for every segment",
                )
            ended_at = time.time()
            c.end_meeting(uuid)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        lines = printed(workdir)
        output = (workdir / "sdk.out").read_text(encoding="utf-8", errors="replace")
        context = f"{lines}\n{output[-3000:]}"
        assert [ln["reason"] for ln in lines if ln["event"] == "join"] == [0], context
        got = [ln for ln in lines if ln["event"] == "transcript"]
        assert [g["text"] for g in got] == [s["text"] for s in SCRIPT], context
        assert [g["user_name"] for g in got] == [s["speaker"] for s in SCRIPT], context
        assert got[0]["user_id"] == got[2]["user_id"] != got[1]["user_id"]
        leaves = [ln for ln in lines if ln["event"] == "leave"]
        assert [ln["reason"] for ln in leaves] == [6], context  # STOP_BC_MEETING_ENDED
        assert leaves[0]["at"] >= ended_at and all(g["at"] < ended_at for g in got)
        # zoomsim's own account: every segment reached a ready client, over one signaling connection.
        assert all(s["ready_client"] and s["delivered"] for s in segments)
        conns = c.ledger(kind="rtms.connection", meeting_uuid=uuid)
        assert [e["action"] for e in conns if e["socket"] == "signaling"] == ["opened", "closed"]
        assert max(e["signaling_open"] for e in conns) == 1
        assert all(e["tls"] is (transport == "wss") for e in conns)
        assert c.ledger(kind="rtms.keepalive_timeout") == []
        events = [e["event"] for e in c.ledger(kind="event.emitted", meeting_uuid=uuid)]
        assert events[-2:] == ["meeting.rtms_stopped", "meeting.ended"]
