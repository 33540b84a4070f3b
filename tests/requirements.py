"""What a test needs from the machine (a browser, Playwright, Zoom's SDK): skipped locally, failed on CI.

A developer's machine may lack them and still run the rest; CI installs them, so there a missing one is a
broken setup that must not pass as a quiet skip. CI runs with ``CI=true`` in its environment.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest


def on_ci() -> bool:
    return os.environ.get("CI") == "true"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test (or the module, when called at import) locally; fail it on CI."""
    if on_ci():
        pytest.fail(f"{reason} (CI=true: required here, not skipped)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_module(name: str) -> ModuleType:
    """``pytest.importorskip`` that fails instead on CI."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        skip_or_fail(f"could not import {name!r}: {exc}")
