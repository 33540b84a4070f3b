"""Rules about the code base itself, checked by reading the source."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = ["controlplane", "regions", "reconciler", "rtms"]


def _product_files() -> list[Path]:
    return [p for pkg in PRODUCT_PACKAGES for p in (ROOT / pkg).rglob("*.py")]


def test_product_code_never_imports_zoomsim() -> None:
    offenders = []
    for path in _product_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "zoomsim"]
    assert offenders == []


def test_only_regions_routing_spells_a_regional_queue_name() -> None:
    pattern = re.compile(r"""["']region\.""")
    offenders = [
        str(p.relative_to(ROOT))
        for p in _product_files()
        if p != ROOT / "regions" / "routing.py" and pattern.search(p.read_text())
    ]
    assert offenders == []


def test_product_code_has_no_simulator_branch() -> None:
    offenders = [
        str(p.relative_to(ROOT)) for p in _product_files() if re.search(r"zoomsim", p.read_text(), re.I)
    ]
    assert offenders == []
