"""docs/data.md lists every field of every model we own, with a class."""

from __future__ import annotations

import re
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "data.md"
CLASSES = {"personal", "pseudonymous", "content", "operational"}


def _our_apps() -> list[str]:
    """Every app that lives in this repository, so a new app's models are covered without a list to edit."""
    return [
        config.label
        for config in apps.get_app_configs()
        if Path(config.path).resolve().is_relative_to(ROOT) and ".venv" not in Path(config.path).parts
    ]


def _documented() -> dict[str, dict[str, str]]:
    tables: dict[str, dict[str, str]] = {}
    current: str | None = None
    for line in DOC.read_text().splitlines():
        heading = re.match(r"^### (\w+\.\w+)", line)
        if heading:
            current = heading.group(1)
            tables[current] = {}
            continue
        row = re.match(r"^\| (\w+) \| (\w+) \|", line)
        if current and row and row.group(2) != "class":  # skip the header row
            tables[current][row.group(1)] = row.group(2)
    return tables


def test_every_model_field_is_classified_in_docs_data_md() -> None:
    documented = _documented()
    missing = []
    for app in _our_apps():
        for model in apps.get_app_config(app).get_models():
            fields = documented.get(model._meta.label, {})
            missing += [
                f"{model._meta.label}.{f.name}" for f in model._meta.concrete_fields if f.name not in fields
            ]
    assert missing == [], "add these fields to docs/data.md"


def test_the_check_covers_every_app_of_this_repository() -> None:
    assert {"regions", "rtms", "reconciler", "compliance", "api"} <= set(_our_apps())
    assert "auth" not in _our_apps() and "admin" not in _our_apps()


def test_every_documented_class_is_a_known_class() -> None:
    for label, fields in _documented().items():
        for name, cls in fields.items():
            assert cls in CLASSES, f"{label}.{name} has unknown class {cls!r}"


def test_no_stale_rows_for_fields_that_no_longer_exist() -> None:
    for label, fields in _documented().items():
        model = apps.get_model(label)
        assert set(fields) <= {f.name for f in model._meta.concrete_fields}, label
