"""Bad configuration fails at start-up with a message naming the variable; production settings pass
``check --deploy``. Each case runs manage.py in a fresh process, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "SECRET_KEY": "k" * 60 + "-production-like-secret-value",
    "PERSONAL_DATA_HASH_KEY": "h" * 60 + "-production-like-hash-key",
    "ALLOWED_HOSTS": "rtms.example.com",
    "DOTENV_PATH": "/nonexistent/.env",
    "PATH": os.environ.get("PATH", ""),
    # Each region's content in a database of its own (residency fails closed without a mapping).
    "REGION_DATABASES": (
        '{"eu-central": "postgres://db-eu.internal/rtms_eu", "us-east": "postgres://db-us.internal/rtms_us",'
        ' "ap-southeast": "postgres://db-ap.internal/rtms_ap"}'
    ),
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "controlplane.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy_cleanly() -> None:
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_debug_is_off_by_default_and_secret_key_is_then_required() -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY is required unless DEBUG is on" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RECONCILE_INTERVAL_SECONDS", "often", "RECONCILE_INTERVAL_SECONDS must be a number of seconds"),
        ("DEBUG", "perhaps", "DEBUG must be a boolean"),
        ("DATABASE_URL", "mysql://u@h/db", "DATABASE_URL must be a PostgreSQL URL"),
        ("REGION_DATABASES", "not json", "REGION_DATABASES must be a JSON object"),
        ("CELERY_VISIBILITY_TIMEOUT_SECONDS", "90", "CELERY_VISIBILITY_TIMEOUT_SECONDS must be under 60"),
        ("TIMING_PROFILE", "turbo", "TIMING_PROFILE must be one of"),
        ("WEBHOOK_MAX_BODY_BYTES", "-5", "WEBHOOK_MAX_BODY_BYTES must be at least"),
    ],
)
def test_a_bad_value_fails_at_start_up_naming_the_variable(variable: str, value: str, message: str) -> None:
    result = _manage("check", env={**PRODUCTION_ENV, variable: value})
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr.split("ImproperlyConfigured")[-1]


def test_the_fast_profile_changes_every_duration_at_once() -> None:
    code = (
        "import django;django.setup();from django.conf import settings as s;"
        "print(s.RECONCILE_INTERVAL.total_seconds(), s.STREAM_LEASE_TTL.total_seconds())"
    )
    base = {**PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "controlplane.settings"}

    def run(env: dict[str, str]) -> list[str]:
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        return result.stdout.split()

    assert run(base) == ["30.0", "10.0"]
    assert run({**base, "TIMING_PROFILE": "fast"}) == ["3.0", "3.0"]
    assert run({**base, "TIMING_PROFILE": "fast", "RECONCILE_INTERVAL_SECONDS": "7"}) == ["7.0", "3.0"]
