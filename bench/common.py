"""What every benchmark script shares: the environment and database of the product processes it starts,
Redis, the zoomsim account, waiting and stopping, and how figures are printed."""

from __future__ import annotations

import argparse
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import psycopg
import redis
import requests

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REGION = "eu-central"
# The default account's apps, as zoomsim and the product both read them from the environment.
CREDENTIALS = {
    "ZOOM_ACCOUNT_ID": "bench-account",
    "ZOOM_CLIENT_ID": "bench-rtms-client-id",
    "ZOOM_CLIENT_SECRET": "bench-rtms-client-secret-" + "y" * 16,
    "ZOOM_WEBHOOK_SECRET_TOKEN": "bench-webhook-secret-token",
    "ZOOM_S2S_CLIENT_ID": "bench-s2s-client-id",
    "ZOOM_S2S_CLIENT_SECRET": "bench-s2s-client-secret-" + "z" * 16,
    "ZOOM_EVENT_SUBSCRIPTION_ID": "bench-subscription",
}

T = TypeVar("T")


class BenchmarkBroke(Exception):
    """The benchmark could not measure (as opposed to: it measured something slow)."""


# --- Environment, database, Redis ------------------------------------------------------------------


def production_env(**overrides: str) -> dict[str, str]:
    """DEBUG off, no .env, nothing else inherited that settings read; ``overrides`` on top."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        {
            "DOTENV_PATH": "/nonexistent/.env",  # a developer's .env must not leak in
            "DEBUG": "false",
            "SECRET_KEY": "bench-secret-key-not-for-production-" + "x" * 20,
            "PERSONAL_DATA_HASH_KEY": "bench-hash-key-not-for-production-" + "y" * 20,
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            # INFO logs one JSON line per event; WARNING keeps logging out of the measurement.
            "LOG_LEVEL": "WARNING",
            # One database for everything, by explicit opt-in: residency fails closed without a mapping.
            "REGION_DATABASES": '{"*": "default"}',
            "PYTHONUNBUFFERED": "1",
            # zoomsim's RTMS servers stand in for Zoom's: the allowlist takes them, ws:// included.
            "RTMS_SERVER_HOSTS": "localhost,127.0.0.1",
            "RTMS_ALLOW_PLAIN_WS": "true",
        }
    )
    env.update(overrides)
    return env


def database_url(name: str) -> str:
    """The ``DATABASE_URL`` of a benchmark's own database on the local PostgreSQL."""
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def reset_database(name: str) -> None:
    """Drop (closing its connections) and create the benchmark's own database ``name``."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def migrate_all(env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate_all", "--verbosity", "0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BenchmarkBroke(f"manage.py migrate_all failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def redis_flush(url: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


# --- Django (in the benchmark's process, with the benchmark's environment) --------------------------


def django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def configure_product(host_domain: str, **account: object) -> None:
    """A residency rule sending ``host_domain``'s hosts to ``REGION``, and the default account in "api"
    mode with that region (``account``: more of its fields)."""
    # Imported here: the models load only after django_setup.
    from regions.models import Region, ResidencyRule, RuleField
    from rtms.models import ZoomAccount
    from rtms.models.accounts import AccountMode

    region = Region.objects.get(code=REGION)
    ResidencyRule.objects.update_or_create(
        position=1,
        tier="staff",
        defaults={"field": RuleField.HOST_EMAIL_DOMAIN, "value": host_domain, "region": region},
    )
    ZoomAccount.objects.update_or_create(
        zoom_account_id=CREDENTIALS["ZOOM_ACCOUNT_ID"],
        defaults={"mode": AccountMode.API_START, "default_region": region, **account},
    )


# --- Processes and waiting -------------------------------------------------------------------------


class Proc:
    """A product process in its own session (a Celery worker forks), output in a log file."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], logs: Path) -> None:
        self.name = name
        self.log_path = logs / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                argv, cwd=REPO, env=dict(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 30) -> None:
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)


def check_alive(procs: Sequence[Proc]) -> None:
    for proc in procs:
        if not proc.alive():
            raise BenchmarkBroke(f"{proc.name} exited with {proc.popen.returncode}:\n{tail(proc.log_path)}")


def wait_web_up(base_url: str, procs: Sequence[Proc]) -> None:
    """Until daphne at ``base_url`` answers /healthz; BenchmarkBroke as soon as one of ``procs`` died."""

    def up() -> bool:
        check_alive(procs)
        try:
            return requests.get(f"{base_url}/healthz", timeout=1).ok
        except requests.RequestException:
            return False

    wait_for(up, timeout=60, interval=0.2, what="daphne /healthz")


def wait_for(predicate: Callable[[], T], *, timeout: float, interval: float, what: str) -> T:
    """``predicate()``'s first truthy value, asked every ``interval`` seconds; BenchmarkBroke after
    ``timeout`` (it is always asked at least once, and once more at the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise BenchmarkBroke(f"{what}: not reached within {timeout:.0f} s")
        time.sleep(interval)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
    """SIGTERM (the product's processes drain on it), SIGKILL after ``timeout``; the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return int(proc.returncode)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- Figures ---------------------------------------------------------------------------------------


def parse_at(text: str) -> datetime:
    """A zoomsim ledger timestamp."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not sorted_values:
        return math.nan
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def positive(text: str) -> float:
    """An argparse type: a number > 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value
