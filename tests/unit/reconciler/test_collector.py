"""Registering the reconciler's collector scrapes nothing: the web process registers it at import time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from reconciler.metrics import ReconcilerCollector


def test_registering_the_collector_runs_no_scrape(monkeypatch: pytest.MonkeyPatch) -> None:
    scraped: list[bool] = []

    def spy(self: ReconcilerCollector) -> Iterator[Any]:
        scraped.append(True)
        return iter(())

    monkeypatch.setattr(ReconcilerCollector, "_collect", spy)
    registry = CollectorRegistry(auto_describe=True)  # as the global REGISTRY
    registry.register(ReconcilerCollector())
    assert scraped == []


def test_the_collector_still_claims_its_metric_names() -> None:
    registry = CollectorRegistry(auto_describe=True)  # as the global REGISTRY
    registry.register(ReconcilerCollector())
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        registry.register(ReconcilerCollector())
