"""Checks shared by the docstring tests: a module's examples exist and run."""

from __future__ import annotations

import doctest
import types


def examples(module: types.ModuleType) -> int:
    """Docstring examples doctest finds in the module (not in what it imports)."""
    return sum(len(test.examples) for test in doctest.DocTestFinder().find(module))


def check_examples_run(module: types.ModuleType) -> None:
    """Fail unless the module has docstring examples and every one of them passes."""
    assert examples(module) > 0, f"{module.__name__} has no docstring example"
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
