"""Rules about the code base itself, checked by reading the source."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = ["controlplane", "regions", "rtms", "reconciler", "live", "compliance", "api"]


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


def test_only_regions_queues_spells_a_regional_queue_name() -> None:
    pattern = re.compile(r"""["']region\.""")
    offenders = [
        str(p.relative_to(ROOT))
        for p in _product_files()
        if p != ROOT / "regions" / "queues.py" and pattern.search(p.read_text())
    ]
    assert offenders == []


def test_product_code_has_no_simulator_branch() -> None:
    offenders = [
        str(p.relative_to(ROOT)) for p in _product_files() if re.search(r"zoomsim", p.read_text(), re.I)
    ]
    assert offenders == []


def _own_modules_imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        own = node.module is not None and node.level == 0 and node.module.split(".")[0] in PRODUCT_PACKAGES
        return [str(node.module)] if own else []
    return [a.name for a in node.names if a.name.split(".")[0] in PRODUCT_PACKAGES]


def test_the_projects_own_modules_are_imported_at_the_top_except_in_app_ready() -> None:
    """A function-level import of our own code hides a cycle (layers are checked by lint-imports, which
    sees these too). AppConfig.ready() is the one place that must import lazily: models load after apps.
    Anywhere else, a comment on the line above must say why the import has to wait."""
    offenders = []
    for path in _product_files():
        if "migrations" in path.parts:
            continue
        source = path.read_text()
        lines = source.splitlines()
        for function in ast.walk(ast.parse(source, filename=str(path))):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if path.name == "apps.py" and function.name == "ready":
                continue
            for node in ast.walk(function):
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                for module in _own_modules_imported(node):
                    above = lines[node.lineno - 2].strip() if node.lineno >= 2 else ""
                    if not above.startswith("#"):
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {module}")
    assert offenders == []
