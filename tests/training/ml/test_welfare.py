"""PPO/GRPO's reward from a latent-groups reward run's clusters (training.ml.welfare): the
max-min and welfare aggregation on hand-written tensors, the config's checks, and the reader
refusing a run without cluster models."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.ml.config import ConfigError, GRPOConfig, PPOConfig

pytestmark = pytest.mark.slow  # imports torch


def test_maxmin_trains_on_the_cluster_with_the_lowest_batch_mean() -> None:
    import torch

    from training.ml.welfare import aggregate, cluster_metrics

    # cluster 1 mean 2.0, cluster 2 mean 0.5, cluster 3 mean 1.0: cluster 2 is worst off,
    # although cluster 1 has the lowest single reward (-1)
    scores = torch.tensor([[-1.0, 5.0], [0.0, 1.0], [1.0, 1.0]])
    rewards, worst = aggregate(scores, "maxmin")
    assert worst == 2 and rewards.tolist() == [0.0, 1.0]
    assert cluster_metrics(scores, worst) == {
        "reward/cluster/1": 2.0, "reward/cluster/2": 0.5, "reward/cluster/3": 1.0,
        "reward/worst_cluster": 2.0,
    }  # fmt: skip


def test_welfare_is_the_normalised_weighted_sum() -> None:
    import torch

    from training.ml.welfare import aggregate

    scores = torch.tensor([[1.0, 3.0], [0.0, -1.0]])
    rewards, worst = aggregate(scores, "welfare", [1.0, 3.0])
    assert worst is None
    assert torch.allclose(rewards, torch.tensor([0.25, 0.0]))
    only_first, _ = aggregate(scores, "welfare", [2.0, 0.0])
    assert only_first.tolist() == [1.0, 3.0]
    with pytest.raises(ValueError, match="as many weights"):
        aggregate(scores, "welfare", [1.0])


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"reward_aggregate": "median"}, "reward_aggregate"),
        ({"reward_aggregate": "welfare"}, "reward_aggregate"),
        ({"welfare_weights": {"1": 1.0}}, "welfare_weights"),
        ({"reward_aggregate": "welfare", "welfare_weights": {"1": 0, "2": 0}}, "welfare_weights"),
        ({"reward_aggregate": "welfare", "welfare_weights": {"1": -1, "2": 2}}, "welfare_weights"),
        ({"reward_aggregate": "maxmin", "reward_group": "young"}, "reward_aggregate"),
    ],
)
def test_config_refuses_bad_aggregates(options: dict, field: str) -> None:
    for cls in (PPOConfig, GRPOConfig):
        with pytest.raises(ConfigError) as raised:
            cls(base_model="m", reward_model="/rm", **options)
        assert raised.value.field == field


def test_grpo_with_a_rule_cannot_aggregate_clusters() -> None:
    with pytest.raises(ConfigError) as raised:
        GRPOConfig(base_model="m", reward_rule="exact_answer", reward_aggregate="maxmin")
    assert raised.value.field == "reward_aggregate"
    ok = PPOConfig(
        base_model="m", reward_model="/rm", reward_aggregate="welfare",
        welfare_weights={"1": 1, "2": 0.5},
    )  # fmt: skip
    assert ok.welfare_weights == {"1": 1, "2": 0.5}


def test_a_run_without_clusters_is_refused_before_loading(tmp_path: Path) -> None:
    from training.ml.welfare import ClusterReader

    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="no latent cluster models") as raised:
        ClusterReader(tmp_path, "maxmin", {})
    assert raised.value.field == "reward_aggregate"
