"""The docstring examples of every annotation.agreement module and of annotation.preferences run,
and each of those modules has at least one: a module that loses its examples fails here."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import types

import pytest

from annotation import agreement

MODULES = [
    "annotation.agreement",
    *(f"annotation.agreement.{m.name}" for m in pkgutil.iter_modules(agreement.__path__)),
    "annotation.preferences",
]


def examples(module: types.ModuleType) -> int:
    """Docstring examples doctest finds in the module (not in what it imports)."""
    return sum(len(test.examples) for test in doctest.DocTestFinder().find(module))


def test_every_agreement_module_is_checked():
    assert {"reliability", "ranks", "strengths", "divergence", "bootstrap", "scales"} <= {
        name.rsplit(".", 1)[-1] for name in MODULES
    }


@pytest.mark.parametrize("name", MODULES)
def test_module_examples_exist_and_run(name: str) -> None:
    module = importlib.import_module(name)
    assert examples(module) > 0, f"{name} has no docstring example"
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_a_module_without_examples_is_caught():
    bare = types.ModuleType("bare", "A docstring with no example.")
    assert examples(bare) == 0
