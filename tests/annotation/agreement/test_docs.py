"""The docstring examples of every annotation.agreement module and of annotation.preferences run,
and each of those modules has at least one: a module that loses its examples fails here."""

from __future__ import annotations

import importlib
import pkgutil
import types

import pytest

from annotation import agreement
from tests.docstrings import check_examples_run

MODULES = [
    "annotation.agreement",
    *(f"annotation.agreement.{m.name}" for m in pkgutil.iter_modules(agreement.__path__)),
    "annotation.preferences",
]


def test_every_agreement_module_is_checked():
    assert {"reliability", "ranks", "strengths", "divergence", "bootstrap", "scales"} <= {
        name.rsplit(".", 1)[-1] for name in MODULES
    }


@pytest.mark.parametrize("name", MODULES)
def test_module_examples_exist_and_run(name: str) -> None:
    check_examples_run(importlib.import_module(name))


def test_a_module_without_examples_is_caught():
    bare = types.ModuleType("bare", "A docstring with no example.")
    with pytest.raises(AssertionError, match="bare has no docstring example"):
        check_examples_run(bare)
