"""Group-robust DPO and latent groups as run options (issue 15): the snapshot's pseudonymous
labeler ids, the run form's typed boxes and the API's field errors, the run page's figures with
small groups hidden, and a run of each option started through the API and executed end to end
by the real trainer (slow)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from annotation.selectors.labelers import project_pseudonym
from tests.training.conftest import judge
from training.datasets import DatasetSpec, dataset_rows
from training.models import RunStatus, TrainingRun

pytestmark = pytest.mark.django_db

API = "/api/training/runs/"


def _post(client, project, base_model, kind, hyperparameters, **fields):  # noqa: ANN001, ANN003, ANN201
    payload = {
        "kind": kind, "base_model": base_model, "projects": [project.pk],
        "hyperparameters": {"max_steps": 3, "eval_fraction": 0.5, **hyperparameters}, **fields,
    }  # fmt: skip
    return client.post(API, payload, content_type="application/json")


def test_preference_rows_carry_the_labelers_project_pseudonym_never_their_name(
    judged_project, labeler, other_labeler
):
    judge(judged_project.items.first(), None, "a")  # an imported judgment: no labeler
    rows, counts = dataset_rows(kind="dpo", spec=DatasetSpec(project_ids=(judged_project.pk,)))
    expected = {project_pseudonym(judged_project, u.pk) for u in (labeler, other_labeler)}
    assert {r.get("labeler") for r in rows} == expected | {None}
    text = json.dumps(rows)
    assert labeler.username not in text and other_labeler.username not in text
    assert counts["labelers"] == 2


def test_api_refuses_group_robust_with_group_balance(
    as_persona, judged_project, base_model_dir, runs_dir
):
    response = _post(
        as_persona("researcher"), judged_project, base_model_dir, "dpo",
        {"group_robust": True}, group_balance=True,
    )  # fmt: skip
    assert response.status_code == 400
    assert "group_balance" in response.json()["hyperparameters.group_robust"][0]


def test_api_refuses_group_robust_over_one_group_and_leaves_nothing(
    as_persona, judged_project, groups, base_model_dir, runs_dir, settings
):
    settings.CHORUS_MIN_GROUP_SIZE = 1
    response = _post(
        as_persona("researcher"), judged_project, base_model_dir, "dpo",
        {"group_robust": True}, labeler_groups=[groups["young"].pk],
    )  # fmt: skip
    assert response.status_code == 400
    assert "at least two labeler groups" in response.json()["hyperparameters.group_robust"][0]
    assert not TrainingRun.objects.exists()
    assert not any(runs_dir.glob("*/dataset.jsonl"))


@pytest.mark.parametrize(
    ("k", "why"), [(3, "need at least 3 labelers"), (1, "at least 2"), ("two", "must be int")]
)
def test_api_refuses_impossible_latent_groups(
    as_persona, judged_project, base_model_dir, runs_dir, k, why
):
    response = _post(
        as_persona("researcher"), judged_project, base_model_dir, "reward", {"latent_groups": k}
    )
    assert response.status_code == 400
    assert why in response.json()["hyperparameters.latent_groups"][0]


def test_the_run_form_types_both_options_with_help_and_errors_on_the_box(
    as_persona, judged_project, base_model_dir, runs_dir
):
    client = as_persona("researcher")
    page = client.get(reverse("training:run_new")).content.decode()
    for box in ("hp_dpo_group_robust", "hp_dpo_robust_eta", "hp_reward_latent_groups"):
        assert f'name="{box}"' in page
    assert "Group-robust DPO (Ramesh et al. 2024)" in page
    assert "MaxMin-RLHF" in page
    form = {
        "kind": "reward", "base_model": base_model_dir, "projects": [judged_project.pk],
        "tie_policy": "skip", "both_bad_policy": "skip", "hp_reward_latent_groups": "5",
        "hp_reward_max_steps": "2",
    }  # fmt: skip
    response = client.post(reverse("training:run_new"), form)
    assert response.status_code == 400  # the form again, with the error on the box
    assert "5 latent groups need at least 5 labelers" in response.content.decode()
    assert not TrainingRun.objects.exists()


def _finished(run: TrainingRun, final: dict, **config) -> TrainingRun:  # noqa: ANN003
    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED, final_metrics=final, config={**run.config, **config},
        dataset_counts={**run.dataset_counts, "labelers_per_group": {"young": 2, "senior": 1}},
    )  # fmt: skip
    run.refresh_from_db()
    return run


def test_run_page_shows_robust_weights_and_latent_clusters_without_small_groups(
    as_persona, make_run, settings
):
    settings.CHORUS_MIN_GROUP_SIZE = 2  # senior (1 labeler) is hidden
    run = _finished(
        # every pair in training: the page's figures are set below, and a split that happened to
        # put all eight prompts in eval refused the run (their texts carry database ids)
        make_run(kind="reward", hyperparameters={"max_steps": 3, "eval_fraction": 0.0}),
        {
            "robust_alpha": {"young": 0.25, "senior": 0.75},
            "latent_groups": {
                "k": 2, "labelers": 3, "anonymous_rows": 0, "sizes": [2, 1], "ari": 0.42,
                "contingency": {"young": [2, 0], "senior": [0, 1]},
                "assignments": {"L-x": 1}, "history": [],
                "eval_accuracy": {"1": {"cluster_model": 0.9, "pooled_model": 0.6, "pairs": 4.0}},
            },
        },
        group_robust=True, robust_eta=0.5,
    )  # fmt: skip
    for persona, status in (("researcher", 200), ("labeler", 404), ("outsider", 404)):
        response = as_persona(persona).get(reverse("training:run_detail", args=[run.pk]))
        assert response.status_code == status
    page = as_persona("researcher").get(reverse("training:run_detail", args=[run.pk]))
    html = page.content.decode()
    robust = html[html.index('id="group-robust"') : html.index('id="latent-groups"')]
    assert "young" in robust and "0.250" in robust and "senior" not in robust
    latent = html[html.index('id="latent-groups"') :]
    assert "0.420" in latent and "0.900" in latent and "senior" not in latent
    assert "1 declared group with fewer than 2 labelers hidden" in latent
    body = as_persona("researcher").get(f"{API}{run.pk}/").json()
    assert body["latent_groups"]["ari"] == 0.42
    assert [r["group"] for r in body["robust"]["alpha"]] == ["young"]
    assert "senior" not in json.dumps(body)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "options", "key"),
    [
        ("dpo", {"group_robust": True, "robust_eta": 1.0}, "robust_alpha"),
        (
            "reward",
            {"latent_groups": 2, "latent_iterations": 2, "controls": False},
            "latent_groups",
        ),
    ],
)
def test_a_run_of_each_option_executes_end_to_end(
    as_persona, judged_project, groups, tiny_base_model, runs_dir, settings, kind, options, key
):
    """API -> snapshot -> `python -m training.ml` as the worker runs it -> figures on the page."""
    from training.services.runs import run_execute

    settings.CHORUS_MIN_GROUP_SIZE = 1
    client = as_persona("researcher")
    response = _post(
        client, judged_project, tiny_base_model, kind,
        {**options, "batch_size": 4, "max_steps": 4, "max_length": 64},
    )  # fmt: skip
    assert response.status_code == 201, response.content
    run_execute(run_id=response.json()["id"], hostname="test@host")
    run = TrainingRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.final_metrics[key]
    html = client.get(reverse("training:run_detail", args=[run.pk])).content.decode()
    if kind == "dpo":
        assert set(run.final_metrics[key]) == {"young", "senior"}
        assert 'id="group-robust"' in html and "Group weights alpha" in html
    else:
        latent = run.final_metrics[key]
        assert sum(latent["sizes"]) == 2 and latent["labelers"] == 2  # the two agree
        assert 'id="latent-groups"' in html and (run.run_dir / "clusters" / "02").is_dir()
