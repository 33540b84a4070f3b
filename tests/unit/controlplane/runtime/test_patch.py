"""The version check every runtime patch goes through, and the list of patches in docs/patches.md."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import django

import controlplane.runtime
from controlplane.runtime.patch import Patch, Pin, installed_version
from tests.unit.controlplane.runtime.conftest import SkippedEvents

ROOT = Path(__file__).resolve().parents[4]


def _patches() -> dict[str, Patch]:
    found: dict[str, Patch] = {}
    for module in pkgutil.iter_modules(controlplane.runtime.__path__):
        declared = getattr(importlib.import_module(f"controlplane.runtime.{module.name}"), "PATCH", None)
        if isinstance(declared, Patch):
            found[module.name] = declared
    return found


PYTHON = (sys.version_info.major, sys.version_info.minor)


def test_the_installed_version_is_major_and_minor_when_read() -> None:
    assert installed_version("django") == django.VERSION[:2]
    assert installed_version("python") == PYTHON
    assert installed_version("no_such_library_here") is None


def test_a_patch_applies_silently_when_every_library_is_at_a_checked_version(
    skipped_events: SkippedEvents,
) -> None:
    here = installed_version("django")
    assert here is not None
    assert Patch("example", (Pin("django", ((4, 2), here)), Pin("python", (PYTHON,)))).check()
    assert skipped_events() == []


def test_a_patch_is_skipped_with_a_warning_naming_each_library_when_its_version_differs(
    skipped_events: SkippedEvents,
) -> None:
    django_here = "{}.{}".format(*django.VERSION[:2])
    pins = (Pin("django", ((4, 1), (4, 2))), Pin("python", (PYTHON,)), Pin("no_such_lib", ((1, 0),)))
    assert not Patch("example", pins).check()
    assert skipped_events() == [
        {"patch": "example", "library": "django", "found": django_here, "expected": "4.1, 4.2"},
        {"patch": "example", "library": "no_such_lib", "found": "missing", "expected": "1.0"},
    ]


def test_every_patch_is_named_for_its_module_and_written_for_the_installed_versions() -> None:
    """Fails after an upgrade of a patched library: read the patch against the new version, then pin it."""
    patches = _patches()
    assert set(patches) == {
        "asyncio_tls",
        "celery_django_pool",
        "celery_worker",
        "channels_consumer",
        "channels_redis_pubsub",
        "daphne_backpressure",
        "django_asgi",
        "kombu_redis",
    }
    for name, declared in patches.items():
        assert declared.name == name
        for pin in declared.pins:
            assert installed_version(pin.library) in pin.versions, (name, pin)


def test_every_patch_is_listed_in_docs_patches_with_its_versions() -> None:
    doc = (ROOT / "docs" / "patches.md").read_text()
    for name, declared in _patches().items():
        assert f"`controlplane/runtime/{name}.py`" in doc, name
        for pin in declared.pins:
            for major, minor in pin.versions:
                assert f"{major}.{minor}" in doc, (name, pin)
