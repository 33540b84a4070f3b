"""Every environment variable the product reads is in .env.example and docs/configuration.md."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from dotenv import dotenv_values

from controlplane import timing

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["controlplane", "regions", "rtms", "reconciler", "live", "compliance", "api"]
READERS = re.compile(r"""(?:env_\w+|_duration|os\.environ\.get|getenv)\(\s*["']([A-Z][A-Z0-9_]+)["']""")
ACCOUNT_DEFAULTS = re.compile(r"""default=["']([A-Z][A-Z0-9_]+)["']""")


def _variables_read() -> set[str]:
    names: set[str] = set(timing.DURATIONS)
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            names |= set(READERS.findall(text))
            if path.name == "accounts.py" and "models" in path.parts:
                names |= set(ACCOUNT_DEFAULTS.findall(text))
    names.discard("DJANGO_SETTINGS_MODULE")
    return names


def test_the_scan_finds_the_contract_variables() -> None:
    assert {
        "DATABASE_URL",
        "REGION_DATABASES",
        "ZOOM_S2S_CLIENT_SECRET",
        "RECONCILE_INTERVAL_SECONDS",
    } <= _variables_read()


def test_every_variable_is_in_env_example() -> None:
    example = (ROOT / ".env.example").read_text()
    missing = sorted(name for name in _variables_read() if not re.search(rf"\b{name}\b", example))
    assert missing == []


def test_every_variable_is_in_docs_configuration() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    missing = sorted(name for name in _variables_read() if f"`{name}`" not in doc and f"`{name}," not in doc)
    assert missing == []


def test_env_example_reads_the_same_in_bash_as_in_the_product() -> None:
    """bin/run sources .env with bash (``set -a; source .env``) and the product reads it with python-dotenv:
    every value must survive both alike. A JSON value with a space once broke bin/run."""
    script = 'set -euo pipefail; set -a; source "$1"; set +a; env -0'
    shell = subprocess.run(
        ["bash", "-c", script, "bash", str(ROOT / ".env.example")],
        capture_output=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    from_bash = dict(item.split("=", 1) for item in shell.stdout.decode().split("\0") if "=" in item)
    for name, value in dotenv_values(ROOT / ".env.example").items():
        assert from_bash.get(name) == (value or ""), name
