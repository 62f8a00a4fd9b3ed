"""Presets (issue 11): a named preset fills a run's hyperparameters, the run's own values win,
every preset is a valid config of its algorithm, and an unknown one is a 400 naming `preset`."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from training.forms.runs import RunForm, RunInput
from training.ml.config import CONFIG_CLASSES, from_dict
from training.ml.presets import preset_names, preset_values
from training.services.runs import hyperparameters_parse


@pytest.mark.parametrize("kind", sorted(CONFIG_CLASSES))
@pytest.mark.parametrize("name", preset_names())
def test_every_preset_is_a_valid_config(kind, name):
    extra = {"reward_model": "/rm"} if kind in ("ppo", "grpo") else {}
    config = from_dict(
        CONFIG_CLASSES[kind], {"base_model": "m", **extra, **preset_values(kind, name)}
    )
    assert config.learning_rate == preset_values(kind, name)["learning_rate"]


def test_the_runs_own_values_override_the_preset():
    parsed = hyperparameters_parse(kind="reward", values={"max_steps": 7}, preset="demo")
    assert parsed.values == {**preset_values("reward", "demo"), "max_steps": 7}
    assert hyperparameters_parse(kind="reward", values={}).values == {}  # defaults unchanged


def test_an_unknown_preset_names_the_field():
    with pytest.raises(ValidationError) as caught:
        hyperparameters_parse(kind="dpo", values={}, preset="nope")
    assert "preset" in caught.value.message_dict


@pytest.mark.django_db
def test_the_api_and_the_form_take_a_preset(judged_project):
    data = {"kind": "dpo", "base_model": "m", "projects": [judged_project.pk], "preset": "demo"}
    api = RunInput(data=data)
    assert api.is_valid(), api.errors
    assert api.validated_data["hyperparameters"].values == preset_values("dpo", "demo")
    assert not RunInput(data={**data, "preset": "nope"}).is_valid()
    assert "data-presets" in str(RunForm()["preset"])
