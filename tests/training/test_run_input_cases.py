"""Issue 10 (2, 3): bad run inputs, table-driven. Each is refused by `POST /api/training/runs/`
and by the HTML form `POST /training/new/` (they share RunInput) with a 400 that names the field
(`base_model`, `hyperparameters.<key>`), never a 5xx, and nothing is created. Paths a user names
must resolve inside CHORUS_MODEL_ROOTS (after realpath); caches are not user-settable."""

from __future__ import annotations

import json
import os

import pytest
from django.urls import reverse

from training.models import TrainingRun

pytestmark = pytest.mark.django_db

# (name, kind, base_model or None for the good one, hyperparameters as JSON text, field named)
CASES = [
    ("absolute path outside the roots", "reward", "/etc", "{}", "base_model"),
    ("relative climb", "reward", "../../../../etc", "{}", "base_model"),
    ("home directory", "reward", "~/", "{}", "base_model"),
    ("deep path-like id", "reward", "a/b/c", "{}", "base_model"),
    ("bad hub id", "reward", "org/na me", "{}", "base_model"),
    ("hub id with ..", "reward", "org/..", "{}", "base_model"),
    ("NUL byte", "reward", "org/x\u0000", "{}", "base_model"),
    (
        "cache path",
        "dpo",
        None,
        '{"ref_logps_cache": "/tmp/elsewhere.pt"}',
        "hyperparameters.ref_logps_cache",
    ),
    ("unknown key", "reward", None, '{"bogus": 1}', "hyperparameters.bogus"),
    ("alias key", "reward", None, '{"lr": 0.1}', "hyperparameters.lr"),
    ("run field", "reward", None, '{"base_model": "/etc"}', "hyperparameters.base_model"),
    (
        "absurd int",
        "reward",
        None,
        '{"max_steps": 1000000000000000000000000000000}',
        "hyperparameters.max_steps",
    ),
    ("absurd seed", "reward", None, '{"seed": 100000000000000000000}', "hyperparameters.seed"),
    ("infinite float", "reward", None, '{"learning_rate": 1e999}', "hyperparameters.learning_rate"),
    ("huge float", "dpo", None, '{"learning_rate": 1e308}', "hyperparameters.learning_rate"),
    ("negative batch", "reward", None, '{"batch_size": -1}', "hyperparameters.batch_size"),
    ("bool for int", "reward", None, '{"epochs": true}', "hyperparameters.epochs"),
    ("string for float", "dpo", None, '{"beta": "0.1"}', "hyperparameters.beta"),
    ("zero beta", "dpo", None, '{"beta": 0}', "hyperparameters.beta"),
    ("not an object", "reward", None, "[1, 2]", "hyperparameters"),
]
FORM_ONLY = [  # texts a JSON body cannot carry (DRF refuses NaN before the view), the textarea can
    ("NaN", "dpo", None, '{"beta": NaN}', "hyperparameters.beta"),
    ("Infinity", "reward", None, '{"max_grad_norm": Infinity}', "hyperparameters.max_grad_norm"),
    ("deep nesting", "reward", None, "[" * 100_000, "hyperparameters"),
]


def _ids(cases):
    return [c[0] for c in cases]


@pytest.fixture
def good(judged_project, base_model_dir, runs_dir):
    return {"projects": judged_project.pk, "base_model": base_model_dir}


@pytest.mark.parametrize(("name", "kind", "base_model", "hyper", "field"), CASES, ids=_ids(CASES))
def test_the_api_refuses_naming_the_field(as_persona, good, name, kind, base_model, hyper, field):
    body = (
        f'{{"kind": "{kind}", "projects": [{good["projects"]}], '
        f'"base_model": {json.dumps(base_model or good["base_model"])}, "hyperparameters": {hyper}}}'
    )
    response = as_persona("researcher").post(
        "/api/training/runs/", body, content_type="application/json"
    )
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert field in response.json(), response.json()
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize(
    ("name", "kind", "base_model", "hyper", "field"), CASES + FORM_ONLY, ids=_ids(CASES + FORM_ONLY)
)
def test_the_form_refuses_naming_the_field(as_persona, good, name, kind, base_model, hyper, field):
    data = {"kind": kind, "base_model": base_model or good["base_model"],
            "projects": [good["projects"]], "tie_policy": "skip", "both_bad_policy": "skip",
            "hyperparameters": hyper}  # fmt: skip
    response = as_persona("researcher").post(reverse("training:run_new"), data)
    assert response.status_code == 400, response.status_code
    errors = response.context["form"].errors
    top = field.partition(".")[0]
    assert top in errors and (top == field or field in str(errors[top])), errors
    assert not TrainingRun.objects.exists()


def test_a_symlink_cannot_lead_out_of_the_roots(as_persona, good, tmp_path):
    link = tmp_path / "innocent-model"
    os.symlink("/etc", link)
    payload = {"kind": "reward", "projects": [good["projects"]], "base_model": str(link)}
    response = as_persona("researcher").post(
        "/api/training/runs/", payload, content_type="application/json"
    )
    assert response.status_code == 400 and "base_model" in response.json()


def test_good_paths_and_hub_ids_pass(as_persona, good, settings):
    from training.paths import model_resolve

    assert model_resolve(good["base_model"]) == os.path.realpath(good["base_model"])
    assert model_resolve("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"
    assert model_resolve("gpt2") == "gpt2"
    response = as_persona("researcher").post(
        "/api/training/runs/",
        {"kind": "dpo", "projects": [good["projects"]], "base_model": good["base_model"],
         "hyperparameters": {"max_steps": 2, "beta": 0.2}},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    run = TrainingRun.objects.get()
    assert "ref_logps_cache" not in run.config
