"""PPO/GRPO rewards beyond one model (issue 15): a group-conditioned reward run's group token
(`reward_group`), and a latent-groups run's clusters combined by max-min or a weighted welfare
(`reward_aggregate`, `welfare_weights`); refused with a field error when the run cannot."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from tests.training.fixtures import finished_run
from training.models import RunKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def latent_run(tmp_path):
    """A succeeded reward run trained with latent_groups 2, laid out as the trainer saves it."""
    run = finished_run(tmp_path, kind=RunKind.REWARD, name="rm latent")
    dirs = {"1": "clusters/01", "2": "clusters/02"}
    for path in [run.run_dir, *(run.run_dir / d for d in dirs.values())]:
        path.mkdir(parents=True, exist_ok=True)
        (path / "config.json").write_text("{}")
    run.final_metrics = {"eval/accuracy": 0.7, "latent_groups": {"dirs": dirs, "ari": 1.0}}
    run.save()
    return run


@pytest.fixture
def conditioned_run(tmp_path, settings):
    settings.CHORUS_MIN_GROUP_SIZE = 2
    run = finished_run(tmp_path, kind=RunKind.REWARD, name="rm conditioned")
    (run.run_dir / "config.json").write_text("{}")
    run.config = {"method": "conditioned"}
    run.dataset_counts["labelers_per_group"] = {"young": 2, "senior": 1}
    matrix = {"young": {"young": 0.8}, "senior": {"senior": 0.7}}
    run.final_metrics = {"method": "conditioned", "conditioned_matrix": matrix}
    run.save()
    return run


def _rl(make_run, reward_run, kind="ppo", **hyperparameters):  # noqa: ANN001, ANN003, ANN202
    return make_run(
        kind=kind, reward_run=reward_run, hyperparameters={"max_steps": 2, **hyperparameters}
    )


@pytest.mark.parametrize("kind", ["ppo", "grpo"])
def test_maxmin_and_welfare_use_the_runs_clusters(make_run, latent_run, kind):
    run = _rl(make_run, latent_run, kind, reward_aggregate="maxmin")
    assert run.config["reward_aggregate"] == "maxmin"
    assert run.config["reward_model"] == str(latent_run.run_dir)
    weights = {"1": 1.0, "2": 3.0}
    run = _rl(make_run, latent_run, kind, reward_aggregate="welfare", welfare_weights=weights)
    assert run.config["welfare_weights"] == weights


@pytest.mark.parametrize(
    ("reward_run", "options", "field", "why"),
    [
        ("conditioned_run", {"reward_aggregate": "maxmin"}, "reward_aggregate", "no cluster"),
        ("latent_run", {"reward_aggregate": "welfare", "welfare_weights": {"1": 1}},
         "welfare_weights", "clusters 1, 2"),
        ("latent_run", {"reward_aggregate": "welfare"}, "reward_aggregate", "needs welfare_weights"),
        ("latent_run", {"welfare_weights": {"1": 1, "2": 1}}, "welfare_weights", "welfare\" only"),
        ("latent_run", {"reward_aggregate": "best"}, "reward_aggregate", "must be one of"),
    ],
)  # fmt: skip
def test_impossible_aggregates_are_field_errors(request, make_run, reward_run, options, field, why):
    with pytest.raises(ValidationError) as raised:
        _rl(make_run, request.getfixturevalue(reward_run), **options)
    assert why in raised.value.message_dict[f"hyperparameters.{field}"][0]


def test_the_clusters_missing_on_disk_are_refused(make_run, latent_run):
    (latent_run.run_dir / "clusters" / "02" / "config.json").unlink()
    (latent_run.run_dir / "clusters" / "01" / "config.json").unlink()
    with pytest.raises(ValidationError) as raised:
        _rl(make_run, latent_run, reward_aggregate="maxmin")
    assert "hyperparameters.reward_aggregate" in raised.value.message_dict


def test_a_conditioned_runs_group_scores_with_its_token(make_run, conditioned_run):
    run = make_run(kind="grpo", reward_run=conditioned_run, reward_group="young")
    assert run.reward_group == "young" and run.config["reward_group"] == "young"
    assert run.config["reward_model"] == str(conditioned_run.run_dir)
    pooled = make_run(kind="grpo", reward_run=conditioned_run)
    assert pooled.config["reward_group"] is None


def test_a_small_group_of_a_conditioned_run_is_refused(make_run, conditioned_run):
    with pytest.raises(ValidationError) as raised:
        make_run(kind="ppo", reward_run=conditioned_run, reward_group="senior")
    message = raised.value.message_dict["reward_group"][0]
    assert "has no model for group 'senior'" in message and message.endswith("young.")


def test_reward_group_is_not_a_hyperparameter(make_run, latent_run):
    with pytest.raises(ValidationError) as raised:
        _rl(make_run, latent_run, reward_group="young")
    assert "hyperparameters.reward_group" in raised.value.message_dict


def test_the_api_names_the_field(as_persona, latent_run, judged_project, base_model_dir, runs_dir):
    payload = {
        "kind": "ppo", "base_model": base_model_dir, "projects": [judged_project.pk],
        "reward_run": latent_run.pk,
        "hyperparameters": {"reward_aggregate": "welfare", "welfare_weights": {"3": 1}},
    }  # fmt: skip
    response = as_persona("researcher").post(
        "/api/training/runs/", payload, content_type="application/json"
    )
    assert response.status_code == 400
    assert "clusters 1, 2" in response.json()["hyperparameters.welfare_weights"][0]


def test_the_form_offers_the_aggregate_and_the_conditioned_groups(
    as_persona, conditioned_run, runs_dir
):
    page = as_persona("researcher").get(reverse("training:run_new")).content.decode()
    for box in ("hp_ppo_reward_aggregate", "hp_grpo_reward_aggregate"):
        assert f'name="{box}"' in page
    assert '<option value="maxmin">' in page and "MaxMin-RLHF" in page
    assert f"group young (reward runs {conditioned_run.pk})" in page
    assert "group senior" not in page
