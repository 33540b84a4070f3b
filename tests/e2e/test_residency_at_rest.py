"""Issue #19 point 2: proof at rest. Real processes against zoomsim, each of three regions with a
PostgreSQL database of its own (``REGION_DATABASES`` without a fallback). After three meetings, one per
region, were captured:

- ``pg_dump --data-only`` of the control database holds no topic, host e-mail, speaker name or transcript
  text of any meeting;
- each region's database holds rows of its own meetings only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from django.db import connections

from rtms.models import InboundEvent, InboxStatus, Meeting
from tests.e2e.harness import (
    ANY_ERROR,
    POLL_S,
    ROOT,
    Proc,
    database_url,
    product_env,
    start_web,
    start_worker,
    stop_all,
)
from tests.eventually import eventually
from tests.support import sim_config
from zoomsim.testing import SimServer

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.timeout(480)]

QUEUES = ["control", "reconcile", "region.eu-central", "region.us-east", "region.ap-southeast"]
LINES = 4


@dataclass(frozen=True)
class Spot:
    """One region's meeting: what must be found in its region's database and nowhere else."""

    region: str
    host_email: str
    topic: str
    speaker: str
    text: str


SPOTS = [
    Spot(
        code,
        f"host.{tag}@{tag}.example.com",
        f"Topic-{tag.upper()}-board-merger",
        f"Speaker{tag.upper()}Person",
        f"Secret{tag.upper()}Words",
    )
    for code, tag in (("eu-central", "eu"), ("us-east", "us"), ("ap-southeast", "ap"))
]


def _conninfo(name: str) -> dict[str, object]:
    own = connections["default"].settings_dict
    return {
        "host": own.get("HOST") or "127.0.0.1",
        "port": own.get("PORT") or 5432,
        "user": own.get("USER") or "postgres",
        "dbname": name,
    }


@pytest.fixture
def three_region_databases(residency: dict[str, str]) -> Iterator[dict[str, str]]:
    """eu-central: the suite's EU database; us-east and ap-southeast: two databases made here."""
    own = connections["default"].settings_dict["NAME"]
    names = {
        "eu-central": connections["region_eu_central"].settings_dict["NAME"],
        "us-east": f"{own}_us",
        "ap-southeast": f"{own}_ap",
    }
    admin = psycopg.connect(**_conninfo("postgres"), autocommit=True)  # type: ignore[arg-type]
    try:
        for code in ("us-east", "ap-southeast"):
            admin.execute(f'DROP DATABASE IF EXISTS "{names[code]}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{names[code]}"')
        yield names
    finally:
        for code in ("us-east", "ap-southeast"):
            admin.execute(f'DROP DATABASE IF EXISTS "{names[code]}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def system(three_region_databases: dict[str, str]) -> Iterator[tuple[SimServer, list[Proc]]]:
    mapping = {code: database_url(name) for code, name in three_region_databases.items()}
    with SimServer(sim_config(time_scale=0.2)) as sim:
        env = product_env(sim.base_url, REGION_DATABASES=json.dumps(mapping))
        migrated = subprocess.run(
            [sys.executable, "manage.py", "migrate_all", "--verbosity", "0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        procs: list[Proc] = []
        try:
            web, url = start_web(env)
            procs += [web, start_worker(env, QUEUES)]
            for spot in SPOTS:
                procs.append(
                    Proc.manage(f"gateway-{spot.region}", ["rtms_gateway", "--region", spot.region], env)
                )
            sim.client.set_webhook_url(f"{url}/zoom/webhook")
            yield sim, procs
        finally:
            stop_all(procs)


def _rows(database: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(**_conninfo(database)) as conn:  # type: ignore[arg-type]
        return list(conn.execute(sql).fetchall())


def test_the_control_database_holds_no_personal_data_and_each_region_only_its_own_meetings(
    system: tuple[SimServer, list[Proc]], three_region_databases: dict[str, str]
) -> None:
    sim, _procs = system
    uuids: dict[str, str] = {}
    for spot in SPOTS:
        created = sim.client.create_meeting(
            spot.host_email,
            topic=spot.topic,
            rtms="api",
            transcript=[{"speaker": spot.speaker, "text": f"{spot.text} {i}"} for i in range(LINES)],
            segment_interval_ms=300,
            speak_from="first_client",
        )
        uuids[spot.region] = created["meeting_uuid"]

    def captured() -> bool:
        for spot in SPOTS:
            stored = _rows(
                three_region_databases[spot.region],
                f"SELECT count(*) FROM rtms_transcriptsegment WHERE region_code = '{spot.region}'",
            )
            if int(stored[0][0]) < LINES:  # type: ignore[call-overload]
                return False
        return True

    eventually(
        captured, timeout=240, interval=POLL_S, what="every region's transcript stored", tolerate=ANY_ERROR
    )
    for spot in SPOTS:
        sim.client.end_meeting(uuids[spot.region])
    eventually(
        lambda: (
            not InboundEvent.objects.filter(status=InboxStatus.PENDING).exists()
            and Meeting.objects.filter(state="ended").count() == len(SPOTS)
        ),
        timeout=180,
        interval=POLL_S,
        what="every event applied and every meeting ended",
    )

    control = connections["default"].settings_dict["NAME"]
    info = _conninfo(control)
    dump = subprocess.run(
        [
            "pg_dump",
            "--data-only",
            "-h",
            str(info["host"]),
            "-p",
            str(info["port"]),
            "-U",
            str(info["user"]),
            control,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "COPY public.rtms_meeting" in dump  # the dump is of the right database, with its meetings
    for spot in SPOTS:
        for value in (spot.host_email, spot.topic, spot.speaker, spot.text):
            assert value not in dump, f"{value!r} is in the control database"

    # Each region's database: its own meeting's rows, and nothing of the others.
    meeting_of = dict(Meeting.objects.filter(zoom_uuid__in=uuids.values()).values_list("zoom_uuid", "pk"))
    for spot in SPOTS:
        database = three_region_databases[spot.region]
        own = meeting_of[uuids[spot.region]]
        for table in ("rtms_transcriptsegment", "rtms_meetingdetails", "rtms_routedpayload"):
            found = _rows(database, f"SELECT DISTINCT meeting_id, region_code FROM {table}")
            assert found, f"{table} of {spot.region} is empty"
            assert {row for row in found if row[0] in meeting_of.values()} == {(own, spot.region)}, table
        details = _rows(
            database, f"SELECT topic, host_email FROM rtms_meetingdetails WHERE meeting_id = {own}"
        )
        assert details == [(spot.topic, spot.host_email)]
