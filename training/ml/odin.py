"""ODIN: a reward split into a quality head and a length head, so RL can use quality alone.

    r = r_Q + r_L                                   (the two outputs of one linear head)
    loss = L_BT(r) + lambda_L (|rho(r_Q, L)| - rho(r_L, L)) + lambda_O |w_Q . w_L|

L_BT is the Bradley-Terry loss of ``training.ml.reward_model`` on the summed reward, rho the Pearson
correlation over the batch's responses of a head's reward with the response length L (tokens),
and w_Q, w_L the two rows of the output layer (orthogonal heads read different directions of
the last hidden state). The length head soaks up what length explains of the preferences; the
quality head is pushed to be uncorrelated with length. Scoring and RL (PPO/GRPO) read r_Q only.

Paper: Chen et al. 2024, "ODIN: Disentangled Reward Mitigates Hacking in RLHF", section 3
(``odin_length_weight`` is lambda_L, ``odin_ortho_weight`` lambda_O of ``RewardConfig``).
The run page shows each head's correlation with length on the held-out responses
(``length_correlations``) beside the pooled accuracy of r_Q and of r_Q + r_L.

Example::

    >>> import torch
    >>> round(pearson(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([2.0, 4.0, 6.5])).item(), 3)
    0.999
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

QUALITY, LENGTH = 0, 1  # output columns


def pearson(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Pearson correlation of two 1-d tensors (0 when either is constant)."""
    x, y = x - x.mean(), y - y.mean()
    return (x * y).sum() / (torch.sqrt((x * x).sum() * (y * y).sum()) + eps)


def output_layer(model: torch.nn.Module) -> torch.Tensor:
    """The (2, hidden) weight of a sequence classifier's last linear layer (Llama ``score``,
    BERT ``classifier``, or a wrapped model's)."""
    inner = getattr(model, "module", model)
    for name in ("score", "classifier"):
        layer = getattr(inner, name, None)
        if isinstance(layer, torch.nn.Linear):
            return layer.weight
        if layer is not None and isinstance(getattr(layer, "out_proj", None), torch.nn.Linear):
            return layer.out_proj.weight  # RoBERTa-style head
    raise ValueError(f"{type(inner).__name__}: no linear output layer found for ODIN")


def odin_loss(
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    chosen_length: torch.Tensor,
    rejected_length: torch.Tensor,
    head: torch.Tensor,
    *,
    weights: torch.Tensor | None = None,
    denominator: float | None = None,
    length_weight: float = 1.0,
    ortho_weight: float = 1.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(loss, its parts) for (n, 2) outputs (quality, length) of chosen and rejected, their
    lengths (n,) and the (2, hidden) output layer ``head``."""
    total = chosen.sum(-1) - rejected.sum(-1)
    losses = -F.logsigmoid(total)
    if weights is None:
        rank = losses.mean()
    else:
        rank = (losses * weights).sum() / (weights.sum() if denominator is None else denominator)
    outputs = torch.cat([chosen, rejected])
    lengths = torch.cat([chosen_length, rejected_length]).to(outputs.dtype)
    rho_q = pearson(outputs[:, QUALITY], lengths)
    rho_l = pearson(outputs[:, LENGTH], lengths)
    length_term = rho_q.abs() - rho_l
    ortho = (head[QUALITY] * head[LENGTH]).sum().abs()
    loss = rank + length_weight * length_term + ortho_weight * ortho
    return loss, {"rank": rank, "rho_quality": rho_q, "rho_length": rho_l, "ortho": ortho}


def make_objective(length_weight: float, ortho_weight: float) -> Any:
    """The reward trainer's step for (batch, 2) outputs; needs the batch's completion lengths
    and the model (``context``: "chosen_length", "rejected_length", "model")."""

    def objective(
        chosen: torch.Tensor,
        rejected: torch.Tensor,
        weights: torch.Tensor,
        denominator: float,
        context: dict[str, Any],
    ) -> tuple[torch.Tensor, dict[str, float]]:
        loss, parts = odin_loss(
            chosen, rejected, context["chosen_length"], context["rejected_length"],
            output_layer(context["model"]), weights=weights, denominator=denominator,
            length_weight=length_weight, ortho_weight=ortho_weight,
        )  # fmt: skip
        margin = (chosen[:, QUALITY] - rejected[:, QUALITY]).detach()
        return loss, {
            "loss": loss.item(),
            "accuracy": ((margin > 0).float() * weights).sum().item() / denominator,
            "margin": margin.mean().item(),
            **{k: v.item() for k, v in parts.items()},
        }

    return objective


def length_correlations(
    outputs: Sequence[Sequence[float]], lengths: Sequence[int]
) -> dict[str, float | None]:
    """Pearson correlation with length of each head and of their sum, over held-out responses
    (None with fewer than 3 responses or a constant column)."""
    if len(outputs) < 3:
        return {"quality": None, "length": None, "total": None}
    out = np.asarray(outputs, dtype=np.float64)
    n = np.asarray(lengths, dtype=np.float64)

    def corr(x: np.ndarray) -> float | None:
        if np.std(x) == 0 or np.std(n) == 0:
            return None
        return float(np.corrcoef(x, n)[0, 1])

    return {
        "quality": corr(out[:, QUALITY]),
        "length": corr(out[:, LENGTH]),
        "total": corr(out.sum(1)),
    }
