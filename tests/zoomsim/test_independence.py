"""zoomsim is an independent implementation of Zoom: it never imports the product packages."""

from __future__ import annotations

import ast
from pathlib import Path

import zoomsim

PRODUCT = {"controlplane", "regions", "reconciler", "rtms", "live", "compliance", "api", "django"}


def test_zoomsim_imports_no_product_code() -> None:
    root = Path(zoomsim.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in PRODUCT]
    assert offenders == []
