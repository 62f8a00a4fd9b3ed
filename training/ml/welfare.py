"""One policy reward from a latent-groups reward run's cluster models: the worst-off cluster's
(MaxMin-RLHF) or a weighted social welfare the researcher chooses.

A reward run trained with ``latent_groups`` K (training.ml.latent_groups) holds one
Bradley-Terry model per discovered preference type under clusters/NN (``RewardHead.clusters``).
PPO and GRPO score each rollout batch with every cluster model, r_k(x, y), k = 1..K, and train
on one reward per completion:

    maxmin:   r(x, y) = r_{k*}(x, y),  k* = argmin_k mean_batch r_k   (max_pi min_k E[r_k])
    welfare:  r(x, y) = sum_k w_k r_k(x, y) / sum_k w_k               (weighted utilitarian)

"maxmin" is MaxMin-RLHF's policy step (Chakraborty et al. 2024, "MaxMin-RLHF: Alignment with
Diverse Human Preferences", Algorithm 2): each iteration optimises the reward of the cluster
that the current policy serves worst, so the worst-off type's expected reward rises. The
clusters' models are compared on their raw scales, as in the paper. Every cluster's batch
mean is logged (``train/reward/cluster/<k>``), and ``train/reward/worst_cluster`` says which
one "maxmin" trained on.

Example::

    >>> import torch
    >>> aggregate(torch.tensor([[1.0, 3.0], [0.0, 1.0]]), "maxmin")
    (tensor([0., 1.]), 2)
    >>> aggregate(torch.tensor([[1.0, 3.0], [0.0, 1.0]]), "welfare", [3.0, 1.0])[0]
    tensor([0.7500, 2.5000])
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from training.ml.config import ConfigError
from training.ml.score import RewardReader, read_head


def aggregate(
    scores: torch.Tensor, mode: str, weights: Sequence[float] | None = None
) -> tuple[torch.Tensor, int | None]:
    """(K, batch) cluster rewards -> (batch,) rewards, and the worst cluster's number (from 1)
    for "maxmin" (None for "welfare")."""
    if mode == "maxmin":
        worst = int(scores.mean(-1).argmin())
        return scores[worst], worst + 1
    if mode == "welfare":
        w = torch.as_tensor(list(weights or ()), dtype=scores.dtype, device=scores.device)
        if w.numel() != scores.shape[0] or float(w.sum()) <= 0:
            raise ValueError(f"{scores.shape[0]} clusters need as many weights, not all 0")
        return (w[:, None] * scores).sum(0) / w.sum(), None
    raise ValueError(f"unknown aggregate {mode!r}")


def cluster_metrics(scores: torch.Tensor, worst: int | None) -> dict[str, float]:
    """Per-cluster batch mean rewards (and the cluster "maxmin" trained on), for the logs."""
    means = {f"reward/cluster/{k}": v for k, v in enumerate(scores.mean(-1).tolist(), start=1)}
    return means if worst is None else {**means, "reward/worst_cluster": float(worst)}


def cluster_dirs(run_dir: str | Path) -> list[Path]:
    """The run's cluster model directories (ConfigError when it has none)."""
    head = read_head(run_dir)
    dirs = [Path(run_dir) / d for d in head.clusters]
    if not dirs or not all((d / "config.json").is_file() for d in dirs):
        raise ConfigError(
            f"reward_model {str(run_dir)!r} has no latent cluster models (train it with "
            "latent_groups to use reward_aggregate maxmin or welfare)",
            "reward_aggregate",
        )
    return dirs


class ClusterReader:
    """The cluster models of a latent-groups reward run, combined as ``mode`` says:
    ``(input_ids, attention_mask) -> (rewards, None)``; ``last_metrics`` describes the last
    batch (``cluster_metrics``)."""

    def __init__(
        self,
        run_dir: str | Path,
        mode: str,
        weights: dict[str, float],
        device: Any = "cpu",
        dtype: Any = None,
    ) -> None:
        dirs = cluster_dirs(run_dir)
        numbers = [str(k) for k in range(1, len(dirs) + 1)]
        if mode == "welfare" and sorted(weights) != sorted(numbers):
            raise ConfigError(
                f"welfare_weights must give a weight to each of the run's clusters "
                f"{', '.join(numbers)}; got {', '.join(sorted(weights)) or 'none'}",
                "welfare_weights",
            )
        self.readers = [RewardReader(d, device=device, dtype=dtype) for d in dirs]
        self.tokenizer = self.readers[0].tokenizer
        self.mode = mode
        self.weights = [float(weights[n]) for n in numbers] if mode == "welfare" else None
        self.last_metrics: dict[str, float] = {}

    def __call__(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, None]:
        scores = torch.stack([r(input_ids, attention_mask)[0] for r in self.readers])
        rewards, worst = aggregate(scores.float(), self.mode, self.weights)
        self.last_metrics = cluster_metrics(scores.float(), worst)
        return rewards, None
