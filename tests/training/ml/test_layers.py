"""The ML package keeps to its layer (STYLE.md, "Layers")."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import training.ml

ROOT = Path(training.ml.__file__).parent
FORBIDDEN = ("django", "rest_framework", "celery", "annotation")
STDLIB_ONLY = ("config/*.py", "progress.py", "data.py")


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
    return found


@pytest.mark.parametrize("path", sorted(ROOT.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_ml_never_imports_the_web_side(path: Path) -> None:
    for module in _imports(path):
        top = module.split(".")[0]
        assert top not in FORBIDDEN, f"{path.name} imports {module}"
        if top == "training":
            assert module.startswith("training.ml"), f"{path.name} imports {module}"


@pytest.mark.parametrize("name", STDLIB_ONLY)
def test_light_modules_import_only_the_standard_library(name: str) -> None:
    paths = sorted(ROOT.glob(name))
    assert paths, f"no {name}"
    for path in paths:
        for module in _imports(path):
            top = module.split(".")[0]
            allowed = sys.stdlib_module_names | {"__future__"}
            own = path.parent.name == "config" and module.startswith("training.ml.config.")
            assert top in allowed or own, f"{path.name} imports {module}"


def test_no_print_outside_main() -> None:
    for path in ROOT.rglob("*.py"):
        if path.name == "__main__.py":
            continue
        calls = [
            n
            for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
        ]
        assert not calls, f"{path.name} calls print"
