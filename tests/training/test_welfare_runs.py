"""A GRPO run optimised for the worst-off latent cluster (MaxMin-RLHF; issue 15), end to end: a
latent-groups reward run and then the GRPO run, each created through the API and executed by
the real trainer on a tiny model; the per-cluster reward curves reach the run page (slow)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from training.models import RunMetric, RunStatus, TrainingRun

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

API = "/api/training/runs/"


def _run(client, project, base_model, kind, hyperparameters, **fields):  # noqa: ANN001, ANN003, ANN202
    from training.services.runs import run_execute

    payload = {
        "kind": kind, "base_model": base_model, "projects": [project.pk],
        "hyperparameters": {"max_length": 64, "batch_size": 2, **hyperparameters}, **fields,
    }  # fmt: skip
    response = client.post(API, payload, content_type="application/json")
    assert response.status_code == 201, response.content
    run_execute(run_id=response.json()["id"], hostname="test@host")
    run = TrainingRun.objects.get(pk=response.json()["id"])
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run


def test_grpo_for_the_worst_off_cluster_runs_end_to_end(
    as_persona, judged_project, groups, tiny_base_model, runs_dir, settings
):
    settings.CHORUS_MIN_GROUP_SIZE = 1
    client = as_persona("researcher")
    latent = {"latent_groups": 2, "latent_iterations": 1, "controls": False, "max_steps": 2}
    reward = _run(
        client, judged_project, tiny_base_model, "reward", {**latent, "eval_fraction": 0.5}
    )
    assert set(reward.cluster_models()) == {"1", "2"}
    options = {"reward_aggregate": "maxmin", "max_steps": 2, "num_generations": 2,
               "max_new_tokens": 4, "learning_rate": 1e-3}  # fmt: skip
    run = _run(client, judged_project, tiny_base_model, "grpo", options, reward_run=reward.pk)
    names = set(RunMetric.objects.filter(run=run).values_list("name", flat=True))
    assert {"train/reward/cluster/1", "train/reward/cluster/2"} <= names
    worst = RunMetric.objects.filter(run=run, name="train/reward/worst_cluster")
    assert {m.value for m in worst} <= {1.0, 2.0} and worst.count() == 2
    html = client.get(reverse("training:run_detail", args=[run.pk])).content.decode()
    assert "train/reward/cluster/1" in html
