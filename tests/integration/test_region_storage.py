"""Issue #19 point 3: residency fails closed. An active region without a content database stops the
processes at start-up and cannot be activated in the admin; keeping content in the control database is
an explicit opt-in that ``check --deploy`` reports. Before, with REGION_DATABASES unset, every region's
content went to the control database and nothing said so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.test import Client

from controlplane.region_databases import parse_region_databases
from regions.models import Region
from regions.startup import refuse_unstorable_regions
from tests.e2e.harness import database_url

ROOT = Path(__file__).resolve().parents[2]
REGION_CODES = ("eu-central", "us-east", "ap-southeast")


@pytest.fixture
def regions() -> list[Region]:
    """The three regions the migrations load, active (an earlier transactional test may have flushed
    them)."""
    found = []
    for code in REGION_CODES:
        region, _ = Region.objects.update_or_create(
            code=code, defaults={"name": code, "jurisdiction": code, "active": True}
        )
        found.append(region)
    return found


def _url() -> str:
    return database_url(str(connections["default"].settings_dict["NAME"]))


def _env(**extra: str) -> dict[str, str]:
    """A process of the product on the test database (its regions: the three the migrations load)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "controlplane.settings",
        "DOTENV_PATH": "/nonexistent/.env",
        "SECRET_KEY": "k" * 60 + "-production-like-secret-value",
        "PERSONAL_DATA_HASH_KEY": "h" * 60 + "-production-like-hash-key",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": _url(),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        "LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


def _run(argv: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


# --- the guard ----------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("regions")
def test_start_up_is_refused_naming_each_active_region_without_a_content_database(settings: Any) -> None:
    settings.REGION_STORAGE_CHECK_AT_STARTUP = True
    settings.REGION_DATABASES = parse_region_databases({"eu-central": _url()}, _url())
    with pytest.raises(ImproperlyConfigured) as refused:
        refuse_unstorable_regions("test")
    message = str(refused.value)
    assert "ap-southeast, us-east have no content database" in message
    assert "REGION_DATABASES" in message and '{"*": "default"}' in message


@pytest.mark.django_db
@pytest.mark.usefixtures("regions")
def test_an_inactive_region_without_storage_does_not_stop_anything(settings: Any) -> None:
    settings.REGION_STORAGE_CHECK_AT_STARTUP = True
    settings.REGION_DATABASES = parse_region_databases({"eu-central": _url()}, _url())
    Region.objects.exclude(code="eu-central").update(active=False)
    refuse_unstorable_regions("test")  # no exception


# --- real processes, as an operator starts them ----------------------------------------------------------


# Committed, so that the processes see the regions.
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("regions")
@pytest.mark.parametrize(
    "argv",
    [
        pytest.param([sys.executable, "-c", "import controlplane.asgi"], id="web"),
        pytest.param([sys.executable, "manage.py", "rtms_gateway", "--region", "eu-central"], id="gateway"),
        pytest.param(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "controlplane",
                "worker",
                "--pool",
                "solo",
                "-Q",
                "control",
            ],
            id="worker",
        ),
    ],
)
def test_each_process_refuses_to_start_without_a_mapping(argv: list[str]) -> None:
    result = _run(argv, _env(REGION_DATABASES=""), timeout=90)
    assert result.returncode != 0
    assert "have no content database" in result.stderr + result.stdout


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("regions")
def test_check_reports_regions_without_storage_and_the_opt_in_to_the_control_database() -> None:
    unset = _run([sys.executable, "manage.py", "check", "--database", "default"], _env(REGION_DATABASES=""))
    assert unset.returncode != 0
    assert "regions.E001" in unset.stderr and "have no content database" in unset.stderr

    opt_in = '{"*": "default"}'
    deploy = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    warned = _run(deploy, _env(REGION_DATABASES=opt_in, SECURE_SSL_REDIRECT="true"))
    assert warned.returncode != 0
    assert "regions.W001" in warned.stderr + warned.stdout
    assert "every region not listed" in warned.stderr + warned.stdout
    # The opt-in is a warning, not a refusal: the database check passes with it.
    allowed = _run(
        [sys.executable, "manage.py", "check", "--database", "default"], _env(REGION_DATABASES=opt_in)
    )
    assert allowed.returncode == 0, allowed.stderr


# --- the admin ------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("regions")
def test_a_region_without_a_content_database_cannot_be_activated_in_the_admin(settings: Any) -> None:
    settings.REGION_DATABASES = parse_region_databases({"eu-central": _url()}, _url())
    region = Region.objects.get(code="us-east")
    Region.objects.filter(pk=region.pk).update(active=False)
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin)
    form = {
        "name": region.name,
        "jurisdiction": region.jurisdiction,
        "zoom_data_centres": json.dumps(region.zoom_data_centres or []),
        "active": "on",
    }
    response = client.post(f"/admin/regions/region/{region.pk}/change/", form)
    assert response.status_code == 200  # the form again, with the error
    assert "has no content database" in response.content.decode()
    region.refresh_from_db()
    assert region.active is False

    allowed = client.post("/admin/regions/region/add/", {**form, "code": "eu-central-2", "active": ""})
    errors = allowed.context["adminform"].form.errors if allowed.status_code == 200 else {}
    assert allowed.status_code == 302, errors  # an inactive region can be added and mapped later
