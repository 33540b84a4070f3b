"""Run zoomsim for tests: in-process on a background thread, or as a subprocess."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from aiohttp import web

from zoomsim.app import create_app, start_site
from zoomsim.client import SimClient
from zoomsim.config import SimConfig
from zoomsim.sim import Simulator


class SimServer:
    """zoomsim in this process, on its own event loop in a daemon thread, on an ephemeral port.

    with SimServer(SimConfig(port=0, time_scale=0.01)) as server:
        server.client.create_meeting("host@example.com")
    """

    def __init__(self, config: SimConfig | None = None, **overrides: Any) -> None:
        config = config or SimConfig(port=0)
        self.config = config.with_overrides(**overrides) if overrides else config
        self.sim = Simulator(self.config)
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._client: SimClient | None = None

    @property
    def base_url(self) -> str:
        return self.sim.base_url

    @property
    def client(self) -> SimClient:
        if self._client is None:
            self._client = SimClient(self.base_url)
        return self._client

    def start(self, timeout: float = 10.0) -> SimServer:
        self._thread = threading.Thread(target=self._run, name="zoomsim", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("zoomsim did not start")
        if self._error is not None:
            raise RuntimeError("zoomsim failed to start") from self._error
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surfaced through start()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app: web.Application = create_app(self.config, sim=self.sim)
        runner, self.port = await start_site(app, self.config)
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def call(self, fn: Any, *args: Any, timeout: float = 5.0) -> Any:
        """Run `fn(*args)` (sync or async) on zoomsim's loop and return its result."""
        assert self._loop is not None

        async def run() -> Any:
            result = fn(*args)
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self._client is not None:
            self._client.close()
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout)

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SimProcess:
    """`python -m zoomsim` as a child process (SIGTERM on stop)."""

    def __init__(
        self,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        python: str = sys.executable,
        log_path: str | None = None,
    ) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.cmd = [python, "-m", "zoomsim", "--host", "127.0.0.1", "--port", str(self.port), *args]
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = SimClient(self.base_url)
        if log_path is None:
            fd, log_path = tempfile.mkstemp(prefix="zoomsim-", suffix=".log")
            os.close(fd)
        self.log_path = log_path  # stdout + stderr (JSON lines)

    def read_log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def start(self, timeout: float = 15.0) -> SimProcess:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"zoomsim exited with {self.proc.returncode}: {self.read_log()[-2000:]}")
            if self.client.health():
                return self
            time.sleep(0.05)
        self.stop()
        raise TimeoutError("zoomsim subprocess did not answer")

    def stop(self, timeout: float = 10.0) -> int | None:
        self.client.close()
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        return self.proc.returncode

    def __enter__(self) -> SimProcess:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
