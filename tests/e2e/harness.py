"""Real processes for end-to-end tests: the product's commands on the test databases, zoomsim in-process.

The processes read the same environment a deployment would (12-factor), pointed at the pytest-django test
databases, a Redis database of their own and a zoomsim, on the fast timing profile. Their output goes to
files under ``artifacts/e2e/`` so a failing run can be read afterwards.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psycopg
import redis
import requests
from django.conf import settings
from django.db import connections
from psycopg import sql

from tests.eventually import eventually

ROOT = Path(__file__).resolve().parents[2]
# A run with TEST_RUN_ID (tests/settings.py) keeps its logs apart from other runs on the machine.
_RUN_ID = os.environ.get("TEST_RUN_ID", "")
ARTIFACTS = ROOT / "artifacts" / (f"e2e-{_RUN_ID}" if _RUN_ID else "e2e")
# Redis database for e2e brokers: never the integration tests' database, whose queues hold ids of rows
# that exist only inside rolled-back transactions.
E2E_REDIS_URL = os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/13")

# How e2e tests wait on real processes (with tests/eventually.py): any error from a predicate (a server not
# listening yet, a row not there yet) means "not yet", the last one chained to the failure; and polling no
# faster than POLL_S leaves the two cores, and the GIL of the in-process zoomsim, to the system under test.
ANY_ERROR: tuple[type[BaseException], ...] = (Exception,)
POLL_S = 0.1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_url(name: str, *, server_of: str = "default") -> str:
    """The URL of database ``name`` on the PostgreSQL server of the alias ``server_of``."""
    conf = connections[server_of].settings_dict
    user = conf.get("USER") or "postgres"
    host = conf.get("HOST") or "127.0.0.1"
    port = conf.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{name}"


def _url_of(alias: str) -> str:
    return database_url(str(connections[alias].settings_dict["NAME"]), server_of=alias)


def product_env(sim_base_url: str, **extra: str) -> dict[str, str]:
    """Environment for product processes: the test databases (by their test names), zoomsim's URLs."""
    region_dbs = {code: _url_of(alias) for code, alias in settings.REGION_DATABASES.by_region.items()}
    if settings.REGION_DATABASES.fallback_alias is not None:
        region_dbs["*"] = _url_of(settings.REGION_DATABASES.fallback_alias)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "controlplane.settings",
        "DOTENV_PATH": "/nonexistent/.env",
        "SECRET_KEY": "e2e-secret-key-" + "x" * 40,
        "PERSONAL_DATA_HASH_KEY": "e2e-personal-data-hash-key-" + "y" * 30,
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": _url_of("default"),
        "REGION_DATABASES": json.dumps(region_dbs),
        "REDIS_URL": E2E_REDIS_URL,
        "TIMING_PROFILE": "fast",
        "LOG_LEVEL": "INFO",
        "DB_CONN_MAX_AGE": "0",
        "ZOOM_API_BASE_URL": f"{sim_base_url}/v2",
        "ZOOM_OAUTH_TOKEN_URL": f"{sim_base_url}/oauth/token",
        "ZOOM_EVENTS_WS_URL": sim_base_url.replace("http", "ws", 1) + "/ws",
        # zoomsim's RTMS servers (ws:// on 127.0.0.1, wss:// on localhost): tests and the demo only.
        "RTMS_SERVER_HOSTS": "localhost,127.0.0.1",
        "RTMS_ALLOW_PLAIN_WS": "true",
    }
    for name in (
        "ZOOM_ACCOUNT_ID",
        "ZOOM_CLIENT_ID",
        "ZOOM_CLIENT_SECRET",
        "ZOOM_WEBHOOK_SECRET_TOKEN",
        "ZOOM_S2S_CLIENT_ID",
        "ZOOM_S2S_CLIENT_SECRET",
        "ZOOM_EVENT_SUBSCRIPTION_ID",
    ):
        env[name] = os.environ[name]
    env.update(extra)
    return env


def flush_e2e_redis() -> None:
    client = redis.Redis.from_url(E2E_REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()


class Proc:
    """One product process with its output in a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str]) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = ARTIFACTS / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            argv, cwd=ROOT, env=dict(env), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @classmethod
    def manage(cls, name: str, args: list[str], env: Mapping[str, str]) -> Proc:
        return cls(name, [sys.executable, "manage.py", *args], env)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill9(self) -> None:
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> int:
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        self._log.close()
        return int(self.popen.returncode)


def start_web(env: Mapping[str, str]) -> tuple[Proc, str]:
    port = free_port()
    proc = Proc(
        "web",
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "controlplane.asgi:application"],
        env,
    )
    base = f"http://127.0.0.1:{port}"
    eventually(
        lambda: requests.get(f"{base}/healthz", timeout=1).ok,
        timeout=30,
        interval=POLL_S,
        what="daphne /healthz",
        tolerate=ANY_ERROR,
    )
    return proc, base


def start_worker(env: Mapping[str, str], queues: list[str], name: str = "worker") -> Proc:
    argv = [
        sys.executable, "-m", "celery", "-A", "controlplane", "worker", "--loglevel", "INFO",
        "-Q", ",".join(queues), "-c", "3", "-n", f"{name}@%h", "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    return Proc(name, argv, env)


def start_beat(env: Mapping[str, str]) -> Proc:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    schedule = ARTIFACTS / f"celerybeat-schedule-{os.getpid()}"
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "controlplane",
        "beat",
        "--loglevel",
        "INFO",
        "-s",
        str(schedule),
    ]
    return Proc("beat", argv, env)


class PrivateRedis:
    """A Redis server of the test's own, so it can be killed and restarted without touching anyone else's."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: Proc | None = None

    def start(self) -> PrivateRedis:
        argv = [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.proc = Proc(f"redis-{self.port}", argv, {"PATH": os.environ.get("PATH", "")})
        eventually(self._ping, timeout=20, interval=POLL_S, what="private redis up", tolerate=ANY_ERROR)
        return self

    def _ping(self) -> bool:
        client = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill9()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()


def stop_all(procs: list[Proc]) -> None:
    for proc in procs:
        try:
            proc.stop()
        except Exception:  # teardown goes on for the others
            pass


def wait_subscribed(sim: Any) -> None:
    """Until the product's event subscriber holds zoomsim's event WebSocket."""
    eventually(
        lambda: ledger(sim, kind="ws.connected"),
        timeout=60,
        interval=POLL_S,
        what="event subscriber connected",
        tolerate=ANY_ERROR,
    )


def ledger(sim: Any, **filters: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = sim.client.ledger(**filters)
    return result


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (``initdb`` on a free port), so it can be cut off, stopped and
    started again without touching the databases of anyone else on the machine. Its databases start as
    copies of this run's test databases (schema and the rows the test committed)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="e2e-pg-"))
        self.data = self.root / "data"
        self.proc: Proc | None = None
        self._bin = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))[-1]).parent

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _as_owner(self, argv: list[str]) -> list[str]:
        # PostgreSQL refuses to run as root; CI and this machine run the tests as root.
        # runuser lives in /usr/sbin, which a minimal PATH (CI's) leaves out.
        runuser = shutil.which("runuser") or "/usr/sbin/runuser"
        return [runuser, "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def _run(self, argv: list[str]) -> None:
        subprocess.run(self._as_owner(argv), check=True, capture_output=True, timeout=120)

    def init(self) -> PrivatePostgres:
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres", group="postgres")
        self._run(
            [str(self._bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
             "--no-sync"]
        )  # fmt: skip
        return self.start()

    def start(self) -> PrivatePostgres:
        argv = [
            str(self._bin / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.root),
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off", "-c", "max_connections=300",
        ]  # fmt: skip
        self.proc = Proc(f"postgres-{self.port}", self._as_owner(argv), {"PATH": os.environ.get("PATH", "")})
        eventually(self._ready, timeout=60, interval=POLL_S, what="private postgres up", tolerate=ANY_ERROR)
        return self

    def _ready(self) -> bool:
        with psycopg.connect(self.url("postgres"), connect_timeout=2) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)

    def stop(self) -> None:
        """Fast shutdown: every client is disconnected, new connections are refused."""
        if self.proc is not None and self.proc.alive():
            self._run([str(self._bin / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast", "-w"])
            self.proc.popen.wait(timeout=30)

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            if self.proc is not None:
                self.proc.stop()
            shutil.rmtree(self.root, ignore_errors=True)

    def copy_database(self, source_url: str, name: str) -> str:
        """A copy of ``source_url`` as database ``name`` of this cluster; returns its URL."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        dump = subprocess.run(
            ["pg_dump", "--no-owner", "--no-privileges", source_url],
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=1", self.url(name)],
            input=dump.stdout, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        return self.url(name)

    def terminate_backends(self) -> int:
        """Cut every client connection (pg_terminate_backend); returns how many were cut."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
            ).fetchall()
        return sum(1 for (cut,) in rows if cut)

    def allow_connections(self, databases: list[str], allowed: bool) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            for name in databases:
                conn.execute(
                    sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                        sql.Identifier(name), sql.SQL("true" if allowed else "false")
                    )
                )

    def query(self, database: str, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url(database), connect_timeout=5) as conn:
            return list(conn.execute(statement, params).fetchall())


def private_database_env(pg: PrivatePostgres) -> dict[str, str]:
    """DATABASE_URL and REGION_DATABASES for product processes on copies, in ``pg``, of this run's test
    databases: each alias's database is copied under the alias's name."""
    urls: dict[str, str] = {}
    for alias in connections:
        urls[alias] = pg.copy_database(_url_of(alias), alias)
    region_dbs = {code: urls[alias] for code, alias in settings.REGION_DATABASES.by_region.items()}
    if settings.REGION_DATABASES.fallback_alias is not None:
        region_dbs["*"] = urls[settings.REGION_DATABASES.fallback_alias]
    return {"DATABASE_URL": urls["default"], "REGION_DATABASES": json.dumps(region_dbs)}
