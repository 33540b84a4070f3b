"""Fixtures for zoomsim's own tests: an in-process zoomsim, a webhook receiver and token helpers.

No Django here: these tests run with `-p no:django` and must also pass with the plugin on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from tests.eventually import eventually
from zoomsim.config import AccountConfig, AppCreds, SimConfig
from zoomsim.testing import SimServer

RTMS_APP = AppCreds("rtmsAppClientId", "rtmsAppClientSecret")
S2S_APP = AppCreds("s2sAppClientId", "s2sAppClientSecret")
WEBHOOK_SECRET = "webhookSecretToken123"
ACCOUNT_ID = "acctMain0000000000001"
SUBSCRIPTION_ID = "subMain-0001"


def base_config(**overrides: Any) -> SimConfig:
    """Two separate apps (RTMS app + S2S app), fast timers, and no heartbeat timeout unless asked."""
    cfg = SimConfig(
        port=0,
        time_scale=0.01,
        rtms_app=RTMS_APP,
        webhook_secret_token=WEBHOOK_SECRET,
        account=AccountConfig(ACCOUNT_ID, S2S_APP, SUBSCRIPTION_ID),
        ws_heartbeat_timeout_s=1e7,
    )
    return cfg.with_overrides(**overrides)


# ---- webhook receiver ---------------------------------------------------------------------------


@dataclass
class Received:
    at: float  # monotonic
    headers: dict[str, str]
    raw: bytes

    @property
    def body(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.raw)
        return parsed

    @property
    def event(self) -> str:
        return str(self.body.get("event"))


class Receiver:
    """A webhook endpoint on 127.0.0.1. `plan[event]` is a list of responses consumed in order:
    an int status, or ("sleep", seconds, status). Default 200. URL validation is answered correctly
    unless `validation` is set to "wrong" or an int status."""

    def __init__(self, secret: str = WEBHOOK_SECRET) -> None:
        self.secret = secret
        self.received: list[Received] = []
        self.plan: dict[str, list[Any]] = {}
        self.validation: str | int = "ok"
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                item = Received(time.monotonic(), {k.lower(): v for k, v in self.headers.items()}, raw)
                with receiver._lock:
                    receiver.received.append(item)
                    steps = receiver.plan.get(item.event) or receiver.plan.get("*") or []
                    step = steps.pop(0) if steps else 200
                try:
                    if item.event == "endpoint.url_validation":
                        self._validation(item)
                        return
                    if isinstance(step, tuple):
                        _, seconds, step = step
                        time.sleep(seconds)
                    self.send_response(int(step))
                    self.send_header("content-length", "0")
                    self.end_headers()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _validation(self, item: Received) -> None:
                plain = item.body["payload"]["plainToken"]
                enc = hmac.new(receiver.secret.encode(), plain.encode(), hashlib.sha256).hexdigest()
                if receiver.validation == "wrong":
                    enc = "0" * 64
                status = receiver.validation if isinstance(receiver.validation, int) else 200
                data = json.dumps({"plainToken": plain, "encryptedToken": enc}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/zoom/webhook"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def events(self, name: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received if name is None or r.event == name]

    def wait(self, name: str, count: int = 1, timeout: float = 5.0) -> list[Received]:
        def enough() -> list[Received]:
            got = self.events(name)
            return got if len(got) >= count else []

        return eventually(enough, timeout=timeout, what=f"{count} x {name} webhook")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


# ---- zoomsim ------------------------------------------------------------------------------------


@pytest.fixture
def make_sim() -> Iterator[Callable[..., SimServer]]:
    servers: list[SimServer] = []

    def make(**overrides: Any) -> SimServer:
        server = SimServer(base_config(**overrides)).start()
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def sim(make_sim: Callable[..., SimServer]) -> SimServer:
    return make_sim()


@pytest.fixture
def hooked(make_sim: Callable[..., SimServer], receiver: Receiver) -> SimServer:
    """A zoomsim delivering webhooks to `receiver` (URL validation done)."""
    server = make_sim(webhook_url=receiver.url)
    server.client.wait_for("webhook.validation")
    return server


def token_response(
    base_url: str,
    creds: AppCreds,
    grant: str = "account_credentials",
    account_id: str | None = ACCOUNT_ID,
    as_query: bool = False,
) -> requests.Response:
    auth = base64.b64encode(f"{creds.client_id}:{creds.client_secret}".encode()).decode()
    params: dict[str, str] = {"grant_type": grant}
    if account_id is not None and grant == "account_credentials":
        params["account_id"] = account_id
    if as_query:
        return requests.post(
            base_url + "/oauth/token", params=params, headers={"Authorization": "Basic " + auth}, timeout=5
        )
    return requests.post(
        base_url + "/oauth/token", data=params, headers={"Authorization": "Basic " + auth}, timeout=5
    )


def s2s_token(base_url: str, creds: AppCreds = S2S_APP, account_id: str = ACCOUNT_ID) -> str:
    resp = token_response(base_url, creds, account_id=account_id)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token}


def today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())
