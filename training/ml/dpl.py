"""Distributional preference learning, mean-variance form: a reward with a spread per response.

    P(a > b) = Phi((mu_a - mu_b) / sqrt(sigma_a^2 + sigma_b^2))
    loss = -sum_i w_i log Phi((mu(x_i, y_w,i) - mu(x_i, y_l,i)) / s_i) / (mean(w) B),
           s_i = sqrt(sigma(x_i, y_w,i)^2 + sigma(x_i, y_l,i)^2)

Paper: Siththaranjan, Laidlaw & Hadfield-Menell 2023, "Distributional Preference Learning:
Understanding and Accounting for Hidden Context in RLHF", section 4 (the mean-variance model).

The model is the reward trainer's sequence classifier with two outputs per response: mu and
log sigma (``method`` "dpl" of ``RewardConfig``; ``training.ml.reward`` trains it). Annotators
who agree put their pairs far apart in mu relative to sigma; when a hidden context (e.g. a
labeler group) flips the preference on some pairs, their mu difference cannot grow, and the
uncontested pairs shrink sigma everywhere else, so those responses keep a large sigma. A pair's
spread ``s`` and its *unexplained share* s^2 / (dmu^2 + s^2) (the share of the pair's reward
variance its mean difference does not explain, 1 - the paper's r^2 for one pair) flag the
hidden-context pairs; ``hidden_context_pairs`` lists the distinct pairs by s, with how the
labelers actually split on them. Scoring reads mu as the reward and sigma as its uncertainty.

Example::

    >>> import torch
    >>> loss = mean_variance_loss(torch.tensor([1.0]), torch.tensor([0.0]),
    ...                           torch.tensor([0.0]), torch.tensor([0.0]))
    >>> round(loss.item(), 4)   # -log Phi(1 / sqrt(2))
    0.2702
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from training.ml.data import PreferenceRow, row_groups

LOG_SIGMA_MIN, LOG_SIGMA_MAX = -6.0, 6.0  # keeps Phi's argument finite early in training


def pair_spread(log_sigma_a: torch.Tensor, log_sigma_b: torch.Tensor) -> torch.Tensor:
    """s = sqrt(sigma_a^2 + sigma_b^2), from the clamped log sigmas."""
    a = log_sigma_a.clamp(LOG_SIGMA_MIN, LOG_SIGMA_MAX)
    b = log_sigma_b.clamp(LOG_SIGMA_MIN, LOG_SIGMA_MAX)
    return torch.sqrt(torch.exp(2 * a) + torch.exp(2 * b))


def mean_variance_loss(
    mu_chosen: torch.Tensor,
    mu_rejected: torch.Tensor,
    log_sigma_chosen: torch.Tensor,
    log_sigma_rejected: torch.Tensor,
    weights: torch.Tensor | None = None,
    denominator: float | None = None,
) -> torch.Tensor:
    """-log Phi((mu_c - mu_r) / s): the mean unweighted, else sum(w * loss) / ``denominator``
    (None: sum(w)), as ``reward.bradley_terry_loss``."""
    z = (mu_chosen - mu_rejected) / pair_spread(log_sigma_chosen, log_sigma_rejected)
    losses = -torch.special.log_ndtr(z)
    if weights is None:
        return losses.mean()
    return (losses * weights).sum() / (weights.sum() if denominator is None else denominator)


def objective(
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    weights: torch.Tensor,
    denominator: float,
    context: dict[str, Any],
) -> tuple[torch.Tensor, dict[str, float]]:
    """The reward trainer's step for (batch, 2) outputs (mu, log sigma)."""
    loss = mean_variance_loss(
        chosen[:, 0], rejected[:, 0], chosen[:, 1], rejected[:, 1], weights, denominator
    )
    margin = (chosen[:, 0] - rejected[:, 0]).detach()
    spread = pair_spread(chosen[:, 1], rejected[:, 1]).detach()
    return loss, {
        "loss": loss.item(),
        "accuracy": ((margin > 0).float() * weights).sum().item() / denominator,
        "margin": margin.mean().item(),
        "sigma": spread.mean().item(),
    }


def unexplained_share(mu_gap: float, spread: float) -> float:
    """s^2 / (dmu^2 + s^2): the pair's disagreement its mean difference does not explain."""
    return spread**2 / (mu_gap**2 + spread**2)


def hidden_context_pairs(
    rows: Sequence[PreferenceRow],
    outputs: Mapping[int, tuple[Sequence[float], Sequence[float]]],
    top: int | None = None,
) -> list[dict[str, Any]]:
    """The distinct compared pairs (prompt, unordered responses) by spread s, highest first.

    ``outputs`` maps a row index to ((mu, log sigma) of chosen, of rejected). Each pair says
    how its rows split: ``votes`` per response order and per group, so a reader sees whether a
    high sigma is a real split among the labelers."""
    pairs: dict[tuple[str, str, str], dict[str, Any]] = {}
    for i, row in enumerate(rows):
        if i not in outputs:
            continue
        (mu_c, ls_c), (mu_r, ls_r) = outputs[i]
        a, b = sorted((row.chosen, row.rejected))
        key = (row.prompt_id, a, b)
        spread = float(pair_spread(torch.tensor(ls_c), torch.tensor(ls_r)))
        gap = abs(mu_c - mu_r)
        entry = pairs.setdefault(
            key,
            {
                "prompt_id": row.prompt_id,
                "item_id": row.item_id,
                "prompt": row.prompt[-1]["content"][:200],
                "a": a[:200],
                "b": b[:200],
                "sigma": spread,
                "mu_gap": gap,
                "unexplained": unexplained_share(gap, spread),
                "votes_a": 0.0,
                "votes_b": 0.0,
                "groups": {},
            },
        )
        side = "votes_a" if row.chosen == a else "votes_b"
        entry[side] += row.weight
        for g in row_groups(row):
            split = entry["groups"].setdefault(g, [0.0, 0.0])
            split[0 if row.chosen == a else 1] += row.weight / len(row_groups(row))
    ranked = sorted(pairs.values(), key=lambda p: (-p["sigma"], p["prompt_id"], p["a"]))
    return ranked if top is None else ranked[:top]


def split_share(pair: dict[str, Any]) -> float:
    """The minority's share of a pair's votes (0: unanimous, 0.5: an even split)."""
    total = pair["votes_a"] + pair["votes_b"]
    return min(pair["votes_a"], pair["votes_b"]) / total if total else 0.0


def precision_at(ranked: Sequence[dict[str, Any]], relevant: set[Any], key: str) -> float | None:
    """Share of the first len(relevant) pairs whose ``key`` is in ``relevant`` (None if none)."""
    if not relevant:
        return None
    head = ranked[: len(relevant)]
    return sum(1 for p in head if p[key] in relevant) / len(head) if head else None
