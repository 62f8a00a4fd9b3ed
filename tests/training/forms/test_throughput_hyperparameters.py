"""The throughput switches (issue 17: ``packing``, ``torch_compile``) are hyperparameters like
the others: typed boxes under "More" in the form, the same JSON through the API, and a bad
value is an error on its box."""

from __future__ import annotations

import pytest

from training.forms.runs import RunForm, RunInput, typed_name
from training.ml.hyperparameters import field_specs
from training.services.runs import Hyperparameters

from .test_typed_hyperparameters import posted

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("kind", ["reward", "dpo"])
def test_packing_and_compile_are_typed_boxes_like_the_api(judged_project, kind):
    specs = {s.name: s for s in field_specs(kind)}
    assert specs["packing"].default is True and specs["packing"].advanced
    assert specs["torch_compile"].default is False and "compile" in specs["torch_compile"].meaning
    boxes = {"packing": "false", "torch_compile": "true"}
    form = RunForm(
        posted(judged_project, kind, **{typed_name(kind, k): v for k, v in boxes.items()})
    )
    as_json = {"packing": False, "torch_compile": True}
    api = RunInput(data={"kind": kind, "base_model": "org/model",
                         "projects": [judged_project.pk], "hyperparameters": as_json})  # fmt: skip
    assert form.is_valid(), form.errors
    assert api.is_valid(), api.errors
    assert form.cleaned_data["hyperparameters"] == Hyperparameters(kind, as_json)


def test_a_bad_packing_value_names_the_field(judged_project):
    api = RunInput(data={"kind": "dpo", "base_model": "org/model",
                         "projects": [judged_project.pk], "hyperparameters": {"packing": 3}})  # fmt: skip
    assert not api.is_valid()
    assert "packing" in str(api.errors)
