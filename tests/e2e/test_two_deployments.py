"""Issue #19 point 2: two deployments on one Redis server, each on its own Redis database number (as the
README advises for two runs), never see each other's live transcripts.

Redis pub/sub ignores the database number, so with one fixed channel-layer prefix both deployments'
daphne processes listened on the same ``<prefix>__group__live.meeting.<id>`` channels, and a live page
showed the other deployment's lines. Here the two deployments are as alike as they can be: the same
meeting id and the same stream id in each (what two fresh databases give), so only the deployment's own
prefix keeps them apart. Each is real: its own daphne, its own database, its own ``manage.py`` process
publishing committed lines the way the gateway does (``rtms.hooks.segments_committed`` →
live/transcript_feed.py).
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
import requests
from django.db import connections
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.e2e.harness import ROOT, PrivateRedis, Proc, database_url, product_env, start_web, stop_all

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.timeout(240)]

PASSWORD = "pw-two-deployments-1"
MEETING_PK = 424_242  # the same ids in both deployments: the worst case
STREAM_PK = 535_353
LINES = 3

# Run by each deployment's own manage.py: a staff user of the EU region, one live meeting with a connected
# stream, fixed ids. Hashed with PBKDF2, which the web process knows (the test settings hash with MD5).
SETUP = """
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import Group, User
from regions.access import group_name_for
from regions.models import Region
from rtms.models import Meeting, RtmsStream
hasher = PBKDF2PasswordHasher()
user = User.objects.create(username="viewer", password=hasher.encode(PASSWORD, hasher.salt()), is_staff=True)
user.groups.add(Group.objects.get_or_create(name=group_name_for("eu-central"))[0])
# Earlier transactional tests flush the test database, seeded regions included.
eu, _ = Region.objects.get_or_create(code="eu-central", defaults={"name": "EU", "jurisdiction": "EU"})
meeting = Meeting.objects.create(
    pk=MEETING_PK, zoom_uuid=f"{LABEL}-uuid==", zoom_meeting_id=81234500001, region=eu,
    routing_status="routed", state="live",
)
RtmsStream.objects.create(pk=STREAM_PK, rtms_stream_id=f"{LABEL}-stream", meeting=meeting, region=eu,
                          state="connected")
"""

# What the gateway does after committing a flush of segments: announce them to the live pages.
PUBLISH = """
import asyncio
from live.transcript_feed import segments_to_live_pages
from rtms.gateway.segments import Segment
segments = [
    Segment("eu-central", MEETING_PK, STREAM_PK, seq, 1, "Speaker", f"{LABEL} line {seq}", seq, None, 9)
    for seq in range(1, LINES + 1)
]
asyncio.run(segments_to_live_pages(None, segments=segments))
"""


@dataclass
class Deployment:
    label: str
    env: dict[str, str]
    url: str = ""

    def manage_shell(self, code: str) -> None:
        prologue = f"PASSWORD={PASSWORD!r}; MEETING_PK={MEETING_PK}; STREAM_PK={STREAM_PK}; "
        prologue += f"LINES={LINES}; LABEL={self.label!r}\n"
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", prologue + code],
            cwd=ROOT,
            env=self.env,
            timeout=120,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"{self.label}: manage.py shell failed:\n{done.stderr[-3000:]}"

    def live_socket(self, stack: contextlib.ExitStack) -> ClientConnection:
        """Signed in through the admin's login form, then the meeting's live socket, caught up; closed
        with ``stack``."""
        session = requests.Session()
        login = f"{self.url}/admin/login/"
        page = session.get(login, timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, "no CSRF token on the login page"
        signed_in = session.post(
            login,
            data={
                "username": "viewer",
                "password": PASSWORD,
                "csrfmiddlewaretoken": token.group(1),
                "next": "/",
            },
            headers={"Referer": login},
            timeout=10,
        )
        assert "sessionid" in session.cookies, signed_in.status_code
        cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
        ws = stack.enter_context(
            connect(
                f"{self.url.replace('http', 'ws', 1)}/ws/live/{MEETING_PK}/",
                additional_headers={"Cookie": cookie, "Origin": self.url},
                open_timeout=10,
            )
        )
        while json.loads(ws.recv(timeout=10))["type"] != "caught_up":
            pass
        return ws


def _lines(ws: ClientConnection, *, want: int, settle_s: float) -> list[str]:
    """Transcript lines received until ``want`` arrived, then whatever else comes within ``settle_s``."""
    lines: list[str] = []
    deadline = time.monotonic() + 60
    quiet_until: float | None = None
    while True:
        now = time.monotonic()
        if len(lines) >= want and quiet_until is None:
            quiet_until = now + settle_s
        until = quiet_until if quiet_until is not None else deadline
        if now >= until:
            return lines
        try:
            message = json.loads(ws.recv(timeout=until - now))
        except TimeoutError:
            return lines
        except ConnectionClosed:
            return lines
        if message["type"] == "segments":
            lines += [segment["text"] for segment in message["segments"]]


@pytest.fixture
def deployments() -> Iterator[tuple[Deployment, Deployment]]:
    redis_server = PrivateRedis().start()
    own = connections["default"].settings_dict
    other_db = f"{own['NAME']}_other"
    admin = psycopg.connect(
        host=own.get("HOST") or "127.0.0.1", port=own.get("PORT") or 5432, user=own.get("USER") or "postgres",
        dbname="postgres", autocommit=True,
    )  # fmt: skip
    admin.execute(f'DROP DATABASE IF EXISTS "{other_db}"')
    admin.execute(f'CREATE DATABASE "{other_db}"')
    cookies = {"SESSION_COOKIE_SECURE": "false", "CSRF_COOKIE_SECURE": "false"}
    redis_base = redis_server.url.rsplit("/", 1)[0]
    # Deployment A is the test's own database; B a database of its own, holding its content itself.
    a = Deployment("alpha", product_env("http://127.0.0.1:9", REDIS_URL=f"{redis_base}/1", **cookies))
    other_url = database_url(other_db)
    b = Deployment(
        "bravo",
        product_env(
            "http://127.0.0.1:9",
            REDIS_URL=f"{redis_base}/2",
            DATABASE_URL=other_url,
            REGION_DATABASES='{"*": "default"}',
            **cookies,
        ),
    )
    procs: list[Proc] = []
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate_all", "--verbosity", "0"],
            cwd=ROOT, env=b.env, check=True, timeout=180, capture_output=True,
        )  # fmt: skip
        for deployment in (a, b):
            deployment.manage_shell(SETUP)
            web, deployment.url = start_web(deployment.env)
            procs.append(web)
        yield a, b
    finally:
        stop_all(procs)
        redis_server.stop()
        admin.execute(f'DROP DATABASE IF EXISTS "{other_db}" WITH (FORCE)')
        admin.close()


def test_two_deployments_on_one_redis_each_see_only_their_own_live_lines(
    deployments: tuple[Deployment, Deployment],
) -> None:
    a, b = deployments
    with contextlib.ExitStack() as stack:
        sockets = {d.label: d.live_socket(stack) for d in (a, b)}
        for deployment in (a, b):
            deployment.manage_shell(PUBLISH)
        for deployment in (a, b):
            received = _lines(sockets[deployment.label], want=LINES, settle_s=2.0)
            # With one shared prefix, B's page showed A's three lines (and then dropped its own as repeats).
            assert received == [f"{deployment.label} line {seq}" for seq in range(1, LINES + 1)], (
                f"{deployment.label}'s live page showed {received}"
            )
