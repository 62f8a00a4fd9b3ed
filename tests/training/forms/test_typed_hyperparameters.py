"""The run form's typed hyperparameter boxes (issue 13): they give the service the same
hyperparameters as the API's JSON, an error lands on the box it is about, presets fill the
boxes, and each box's help is its config field's comment and the one table of ranges."""

from __future__ import annotations

import json

import pytest
from django.http import QueryDict
from django.urls import reverse

from training.forms.runs import RunForm, RunInput, typed_name
from training.ml.config import CONFIG_CLASSES, DPOConfig
from training.ml.hyperparameters import TYPICAL, field_comments, field_specs
from training.ml.presets import preset_names, preset_values
from training.models import TrainingRun
from training.services.runs import Hyperparameters

pytestmark = pytest.mark.django_db


def posted(project, kind: str, **boxes: str) -> QueryDict:
    data = QueryDict(mutable=True)
    data.update({"kind": kind, "base_model": "org/model", "projects": str(project.pk),
                 "include_external": "on"})  # fmt: skip
    for name, value in boxes.items():
        data[name] = value
    return data


def test_typed_boxes_give_the_same_hyperparameters_as_the_json(judged_project):
    boxes = {"beta": "0.2", "max_steps": "30", "controls": "false", "strength": "margin"}
    form = RunForm(
        posted(judged_project, "dpo", **{typed_name("dpo", k): v for k, v in boxes.items()})
    )
    as_json = {"beta": 0.2, "max_steps": 30, "controls": False, "strength": "margin"}
    api = RunInput(data={"kind": "dpo", "base_model": "org/model",
                         "projects": [judged_project.pk], "hyperparameters": as_json})  # fmt: skip
    assert form.is_valid(), form.errors
    assert api.is_valid(), api.errors
    assert form.cleaned_data["hyperparameters"] == Hyperparameters("dpo", as_json)
    assert form.cleaned_data == dict(api.validated_data)


def test_only_the_chosen_algorithms_boxes_count_and_the_json_box_adds_the_rest(judged_project):
    data = posted(
        judged_project, "grpo",
        **{typed_name("grpo", "num_generations"): "8", typed_name("reward", "learning_rate"): "0.5"},
    )  # fmt: skip
    data["hyperparameters"] = '{"reward_rule_args": {"pattern": "\\\\d+"}, "num_generations": 2}'
    form = RunForm(data)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["hyperparameters"].values == {
        "reward_rule_args": {"pattern": "\\d+"},
        "num_generations": 8,  # the box wins over the same key in the JSON
    }


@pytest.mark.parametrize(
    ("box", "value", "message"),
    [
        ("beta", "abc", "Enter a number"),  # not a number: the box's own check
        ("batch_size", "1.5", "Enter a whole number"),
        ("batch_size", "99999999", "must be at most 65536"),  # the config's bound, via RunInput
        ("strength", "loud", "Select a valid choice"),
    ],
)
def test_a_bad_value_is_an_error_on_its_box(judged_project, box, value, message):
    form = RunForm(posted(judged_project, "dpo", **{typed_name("dpo", box): value}))
    assert not form.is_valid()
    assert message in " ".join(form.errors[typed_name("dpo", box)])
    assert "hyperparameters" not in form.errors


def test_a_range_error_from_the_service_lands_on_the_box(
    as_persona, judged_project, base_model_dir, runs_dir
):
    data = {"kind": "dpo", "base_model": base_model_dir, "projects": [judged_project.pk],
            "tie_policy": "skip", "both_bad_policy": "skip", typed_name("dpo", "beta"): "-1"}  # fmt: skip
    response = as_persona("researcher").post(reverse("training:run_new"), data)
    assert response.status_code == 400
    form = response.context["form"]
    assert "must be &gt; 0" in response.content.decode() or "must be > 0" in str(form.errors)
    assert list(form.errors) == [typed_name("dpo", "beta")]
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize("kind", sorted(CONFIG_CLASSES))
@pytest.mark.parametrize("name", preset_names())
def test_every_preset_value_has_a_box_that_takes_it(judged_project, kind, name):
    """The page's script fills box hp_<kind>_<field> with each preset value: every one has a
    box, and the boxes so filled give exactly the preset's hyperparameters."""
    values = preset_values(kind, name)
    boxes = {typed_name(kind, k): json.dumps(v).strip('"') for k, v in values.items()}
    form = RunForm(posted(judged_project, kind, **boxes))
    assert set(boxes) <= set(form.fields)
    form.is_valid()
    assert not [n for n in form.errors if n.startswith("hp_")], form.errors
    with_preset = RunForm(posted(judged_project, kind, preset=name, **boxes))
    with_preset.is_valid()
    assert not [n for n in with_preset.errors if n.startswith("hp_")], with_preset.errors
    if with_preset.is_valid():
        assert with_preset.cleaned_data["hyperparameters"].values == values


def test_the_preset_select_carries_every_presets_values():
    table = json.loads(RunForm()["preset"].field.widget.attrs["data-presets"])
    assert table["demo"]["dpo"] == preset_values("dpo", "demo")


def test_each_box_helps_with_the_config_comment_and_a_range():
    form = RunForm()
    beta = form.fields[typed_name("dpo", "beta")]
    assert beta.help_text == field_comments(DPOConfig)["beta"]
    assert beta.help_text.startswith("Inverse temperature of the implicit reward")
    specs = {s.name: s for s in field_specs("dpo")}
    assert specs["learning_rate"].typical == TYPICAL["dpo.learning_rate"]
    assert specs["learning_rate"].default == 1e-6  # DPO's own default, not TrainConfig's
    assert specs["learning_rate"].meaning.startswith("Peak learning rate")  # inherited comment
    assert "base_model" not in specs and "per_group" not in field_specs("reward")


def test_the_page_shows_only_the_posted_algorithms_boxes(as_persona, judged_project):
    page = as_persona("researcher").get(reverse("training:run_new")).content.decode()
    assert 'class="plain hp-section" data-kinds="reward">' in page  # the first one is shown
    assert 'class="plain hp-section" data-kinds="dpo" hidden disabled>' in page
    assert "Inverse temperature of the implicit reward" in page and "Typical" in page
