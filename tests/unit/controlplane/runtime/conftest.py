"""What the runtime-patch tests share: the ``runtime.patch_skipped`` events logged, and a world where no
library is at a version a patch was written for."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from controlplane.runtime import patch

SkippedEvents = Callable[[], list[dict[str, object]]]


@pytest.fixture
def skipped_events(caplog: pytest.LogCaptureFixture) -> SkippedEvents:
    """The fields of every ``runtime.patch_skipped`` warning logged so far."""
    caplog.set_level(logging.WARNING, logger=patch.logger.name)

    def events() -> list[dict[str, object]]:
        return [
            {name: vars(record)[name] for name in ("patch", "library", "found", "expected")}
            for record in caplog.records
            if record.getMessage() == "runtime.patch_skipped" and record.levelno == logging.WARNING
        ]

    return events


@pytest.fixture
def on_other_versions(monkeypatch: pytest.MonkeyPatch, skipped_events: SkippedEvents) -> SkippedEvents:
    """Every library reports version 0.0, which no patch was written for."""
    monkeypatch.setattr(patch, "installed_version", lambda library: (0, 0))
    return skipped_events
