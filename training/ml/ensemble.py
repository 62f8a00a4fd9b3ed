"""Reward-model ensembles: N models from N seeds, scored together, their spread an uncertainty.

    r(x, y) = mean_k r_k(x, y) - lambda * std_k r_k(x, y)      (ensemble_mode "mean_std")
    r(x, y) = min_k r_k(x, y)                                  (ensemble_mode "min")

Each member is trained with the run's method and data on seed ``seed + k`` (different head
initialisation and batch order), k = 0..N-1. Optimising the uncertainty-weighted mean or the
worst case keeps a policy from exploiting one member's errors (reward over-optimisation).
Paper: Coste, Anwar, Kirk & Krueger 2023, "Reward Model Ensembles Help Mitigate
Overoptimization" (UWO is mean - lambda var; we subtract lambda std, so lambda is in reward
units; WCO is the min).

Member 0 is saved in the run directory itself (so a single-model reader still finds a model),
the others in ``ensemble/NN``; ``training.ml.score.RewardReader`` loads them all and gives every
score with its uncertainty (the members' std), which PPO, GRPO and scoring jobs use. The run
page reports the held-out accuracy of the combined reward beside each member's.

Example::

    >>> import torch
    >>> score, std = combine(torch.tensor([[1.0, 0.0], [3.0, 0.0]]), "mean_std", 1.0)
    >>> score.tolist(), std.tolist()
    ([1.0, 0.0], [1.0, 0.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

ENSEMBLE_DIR = "ensemble"


def member_dir(k: int) -> str:
    """Member k's directory relative to the run directory ("" is the run directory)."""
    return "" if k == 0 else f"{ENSEMBLE_DIR}/{k:02d}"


def combine(scores: torch.Tensor, mode: str, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(combined score, std) per column of (members, n) ``scores``. The std is the population
    std over members (0 for one member)."""
    std = scores.std(0, unbiased=False) if scores.shape[0] > 1 else torch.zeros_like(scores[0])
    if mode == "min":
        return scores.min(0).values, std
    if mode == "mean_std":
        return scores.mean(0) - lam * std, std
    raise ValueError(f"unknown ensemble mode {mode!r}")


def combined_margins(
    members: Sequence[dict[int, tuple[float, float]]], mode: str, lam: float
) -> tuple[dict[int, float], dict[int, float]]:
    """Per pair: (combined chosen - combined rejected, the mean of the two responses' std),
    from each member's {pair index: (chosen score, rejected score)}."""
    keys = sorted(members[0])
    chosen = torch.tensor([[m[i][0] for i in keys] for m in members], dtype=torch.float64)
    rejected = torch.tensor([[m[i][1] for i in keys] for m in members], dtype=torch.float64)
    c, c_std = combine(chosen, mode, lam)
    r, r_std = combine(rejected, mode, lam)
    margins = dict(zip(keys, (c - r).tolist(), strict=True))
    spread = dict(zip(keys, ((c_std + r_std) / 2).tolist(), strict=True))
    return margins, spread


def uncertainty_report(margins: dict[int, float], spread: dict[int, float]) -> dict[str, Any]:
    """Mean std on held-out responses, and on the pairs the combined reward gets right vs
    wrong: a useful uncertainty is higher where the ensemble is wrong."""
    right = [spread[i] for i, m in margins.items() if m > 0]
    wrong = [spread[i] for i, m in margins.items() if m <= 0]

    def mean(values: list[float]) -> float | None:
        return sum(values) / len(values) if values else None

    return {
        "std_mean": mean(list(spread.values())),
        "std_right": mean(right),
        "std_wrong": mean(wrong),
    }
