"""Module docstrings: every algorithm gives its loss, paper and a runnable example, and the
doctest examples of the light modules run (a light module with no example fails)."""

from __future__ import annotations

import importlib
import types

import pytest

from tests.docstrings import check_examples_run, examples


@pytest.mark.parametrize(
    "name", ["config", "progress", "data", "controls", "presets", "hyperparameters", "memory"]
)
def test_light_module_examples_run(name: str) -> None:
    check_examples_run(importlib.import_module(f"training.ml.{name}"))


def test_a_module_without_examples_is_caught():
    bare = types.ModuleType("bare", "A docstring with no example.")
    assert examples(bare) == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["reward", "dpo", "ppo", "grpo", "sft"])
def test_algorithm_docstrings(name: str) -> None:
    module = importlib.import_module(f"training.ml.{name}")
    doc = module.__doc__ or ""
    assert "loss = " in doc, "the loss in one line"
    assert "Paper" in doc, "the paper"
    assert "Example::" in doc and f"python -m training.ml {name}" in doc, "a runnable example"
    assert callable(getattr(module, f"train_{name}"))
