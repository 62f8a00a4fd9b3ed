"""Reward methods as run options (issue 15): the service, the API and the form validate them and
name the field; the run page and the API show each method's figures (no trainer runs here)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tests.training.fixtures import finished_run
from training.forms.runs import REWARD_METHOD_CHOICES, RunForm
from training.ml.config import REWARD_METHODS
from training.models import RunKind

pytestmark = pytest.mark.django_db


def test_the_form_offers_exactly_the_trainers_methods() -> None:
    assert [value for value, _ in REWARD_METHOD_CHOICES] == list(REWARD_METHODS)


@pytest.mark.parametrize("method", REWARD_METHODS)
def test_a_reward_run_stores_its_method_in_the_trainer_config(make_run, method: str) -> None:
    run = make_run(reward_method=method, hyperparameters={"max_steps": 3, "ensemble_size": 2})
    assert (run.config["method"], run.config["ensemble_size"]) == (method, 2)
    assert "method" in (run.run_dir / "config.json").read_text()


def test_no_method_is_bradley_terry(make_run) -> None:
    assert make_run().config["method"] == "bt"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"kind": "dpo", "reward_method": "dpl"}, "reward_method", "reward runs only"),
        ({"hyperparameters": {"method": "dpl"}}, "hyperparameters.method", "reward_method"),
        ({"hyperparameters": {"ensemble_size": 0}}, "hyperparameters.ensemble_size", "1..16"),
        ({"hyperparameters": {"ensemble_mode": "max"}}, "hyperparameters.ensemble_mode", "min"),
        (
            {"reward_method": "dpl", "hyperparameters": {"strength": "margin"}},
            "hyperparameters.strength",
            "bt and conditioned",
        ),
    ],
)
def test_bad_method_options_name_the_field(make_run, overrides, field: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        make_run(**overrides)
    assert message in str(caught.value.message_dict[field])


def test_the_api_refuses_an_unknown_method_naming_the_field(as_persona, judged_project) -> None:
    response = as_persona("researcher").post(
        "/api/training/runs/",
        {"kind": "reward", "base_model": "x", "projects": [judged_project.pk],
         "reward_method": "magic"},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 400 and "reward_method" in response.json()


def test_the_schema_documents_the_method(as_persona) -> None:
    schema = as_persona("researcher").get("/api/schema/").content.decode()
    assert "reward_method" in schema and "Group-conditioned" in schema


def test_the_run_form_shows_the_method_and_the_ensemble_boxes(as_persona) -> None:
    page = as_persona("researcher").get("/training/new/").content.decode()
    assert 'name="reward_method"' in page and "Distributional (mean and spread, DPL)" in page
    assert 'name="hp_reward_ensemble_size"' in page and 'name="hp_reward_method"' not in page
    form = RunForm({"kind": "dpo", "reward_method": "odin", "base_model": "x"})
    assert not form.is_valid()


def _plural_run(tmp_path):  # noqa: ANN001, ANN202
    run = finished_run(tmp_path, kind=RunKind.REWARD, name="plural rm")
    run.config = {"method": "conditioned", "ensemble_mode": "mean_std", "ensemble_lambda": 1.0}
    run.final_metrics = {
        "method": "conditioned",
        "eval/accuracy": 0.9,
        "group_accuracy": {"young": 1.0, "senior": 0.8},
        "conditioned_matrix": {
            "young": {"young": 1.0, "senior": 0.6},
            "senior": {"young": 0.7, "senior": 0.8},
        },
        "cross_group_accuracy": {
            "conditioned": {"young": 1.0, "senior": 0.8},
            "young": {"young": 0.95, "senior": 0.5},
            "senior": {"young": 0.5, "senior": 0.85},
        },
        "model_costs": {
            "pooled": {"parameters": 1010, "seconds": 3.0, "steps": 9},
            "young": {"parameters": 1000, "seconds": 2.0, "steps": 5},
            "senior": {"parameters": 1000, "seconds": 2.5, "steps": 4},
        },
        "ensemble": {"accuracy": 0.91, "member_accuracy": [0.9, 0.88], "std_mean": 0.2,
                     "std_right": 0.1, "std_wrong": 0.5},
        "odin": {"length_correlation": {"quality": 0.05, "length": 0.93, "total": 0.9},
                 "total_accuracy": 0.8},
        "dpl": {"pairs": 3, "split_pairs": 1, "split_precision": 1.0, "top_pairs": [
            {"prompt_id": "k", "item_id": 77, "prompt": "Which fruit?", "a": "apple!",
             "b": "pear.", "sigma": 2.5, "mu_gap": 0.1, "unexplained": 0.99, "votes_a": 1.0,
             "votes_b": 1.0, "groups": {"young": [1.0, 0.0], "senior": [0.0, 1.0]}},
        ]},
    }  # fmt: skip
    run.save()
    return run


def test_the_run_page_shows_each_methods_figures(as_persona, tmp_path, settings) -> None:
    settings.CHORUS_MIN_GROUP_SIZE = 1
    run = _plural_run(tmp_path)
    page = as_persona("researcher").get(f"/training/{run.pk}/").content.decode()
    for text in (
        "Group-conditioned model r(x, y, group)", "One conditioned model vs 2 separate models",
        "2000 (all groups)", "Hidden context: the pairs with the widest spread (DPL)",
        "apple!", "no contested items yet", "Length-disentangled reward (ODIN)", "0.930",
        "Ensemble of 2 reward models", "0.500",
    ):  # fmt: skip
        assert text in page, text
    detail = as_persona("researcher").get(f"/api/training/runs/{run.pk}/").json()
    assert detail["reward_method"] == "conditioned"
    assert detail["plural"]["comparison"]["parameters"] == {"conditioned": 1010, "separate": 2000}


def test_the_dpl_pairs_are_matched_with_the_reports_contested_items(
    tmp_path, settings, monkeypatch
) -> None:
    from training.selectors import plural

    settings.CHORUS_MIN_GROUP_SIZE = 1
    run = _plural_run(tmp_path)
    monkeypatch.setattr(plural, "_run_contested", lambda run: {77, 78})
    dpl = plural.run_plural_report(run)["dpl"]
    assert (dpl["report_contested"], dpl["listed_contested"], dpl["agreement"]) == (2, 1, 1.0)
    assert dpl["rows"][0]["groups"] == [("senior", 0.0, 1.0), ("young", 1.0, 0.0)]


def test_small_groups_are_left_out_of_the_figures(tmp_path, settings) -> None:
    from training.selectors.plural import run_plural_report

    settings.CHORUS_MIN_GROUP_SIZE = 2  # both groups have one labeler
    report = run_plural_report(_plural_run(tmp_path))
    assert report["conditioned"] is None or not report["conditioned"]["columns"]
    assert report["dpl"]["rows"][0]["groups"] == []
    assert "young" not in str(report) and "senior" not in str(report)


@pytest.mark.parametrize(
    ("persona", "status"),
    [("researcher", 200), ("labeler", 404), ("outsider", 404), ("anonymous", 302)],
)
def test_only_researchers_see_a_plural_run(as_persona, tmp_path, persona, status) -> None:
    run = _plural_run(tmp_path)
    assert as_persona(persona).get(f"/training/{run.pk}/").status_code == status
    api = as_persona(persona).get(f"/api/training/runs/{run.pk}/").status_code
    assert api == 200 if status == 200 else api in (401, 403, 404)
