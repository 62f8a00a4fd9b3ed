"""Group-robust DPO: minimise the worst labeler group's DPO loss, not the average.

    min_pi max_(alpha in simplex) sum_g alpha_g L_g(pi),
    alpha_g <- alpha_g exp(eta L_g) / sum_h alpha_h exp(eta L_h)     (every step)

Paper: Ramesh, Hu, Chaimalas, Mehta, Bou Ammar, Bogunovic et al. 2024, "Group Robust Preference
Optimization in Reward-free RLHF" (arXiv:2405.20304), Algorithm 1 (GRPO there; named "group-robust
DPO" here, as Chorus's ``grpo`` is Shao et al.'s policy-gradient method).

L_g is group g's DPO loss (``training.ml.dpo.dpo_loss``'s per-pair terms, ODPO's offset
included), each pair weighted by its row weight (1/C(K, 2) for ranking pairs; the strength
factor). A batch estimates it as in the paper's Algorithm 1, by importance weighting:

    L_g ~ (W / W_g) sum_(i in batch, g(i) = g) w_i l_i / sum_(i in batch) w_i

(W_g: group g's total training weight, W: everyone's), unbiased over random batches, and 0 for
a group the batch does not hold. The adversary's weights alpha start uniform and take one
exponentiated-gradient (mirror ascent) step per micro-batch with step size ``eta``; the policy
then descends sum_g alpha_g L_g with alpha detached. A group whose loss stays high gains weight
until the policy serves it: a minority group that pooled DPO neglects (it holds few pairs) is
weighted up whatever its size, so ``group_balance`` is not used with it. A row in several
groups counts in each with an equal share of its weight (``membership``); rows of labelers in no
group form the group ``data.NO_GROUP``. The curves show each group's plain mean loss in the last
batch that held it (``metrics``).

With several processes the batch's per-group sums are added over processes before the alpha
step, so every process holds the same alpha.

Example (hand-written per-pair losses of two groups)::

    >>> import torch
    >>> member = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # training rows' groups
    >>> robust = GroupRobust(["a", "b"], eta=1.0, mass=member.sum(0))
    >>> losses = torch.tensor([0.2, 0.2, 1.0])  # one batch holding every row
    >>> loss, group_loss = robust.step(losses, torch.ones(3), member)
    >>> [round(a, 3) for a in robust.alpha.tolist()]
    [0.31, 0.69]
    >>> round(loss.item(), 3)
    0.752
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from training.ml.data import PreferenceRow, row_groups

# Adds a tensor over processes (identity on one process).
Reduce = Callable[[torch.Tensor], torch.Tensor]


def robust_groups(rows: Sequence[PreferenceRow]) -> list[str]:
    """The groups alpha ranges over: every group of ``rows``, sorted."""
    return sorted({g for r in rows for g in row_groups(r)})


def membership(rows: Sequence[PreferenceRow], groups: Sequence[str]) -> torch.Tensor:
    """(rows, groups) share of each row in each group: 1/len(row's groups) in each of them."""
    column = {g: k for k, g in enumerate(groups)}
    out = torch.zeros(len(rows), len(groups))
    for i, row in enumerate(rows):
        names = row_groups(row)
        for g in names:
            out[i, column[g]] = 1.0 / len(names)
    return out


def group_losses(
    losses: torch.Tensor, weights: torch.Tensor, member: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of w * loss per group, sum of w per group) over the batch: (G,), (G,)."""
    share = member * weights.unsqueeze(1)
    return (share * losses.unsqueeze(1)).sum(0), share.sum(0)


class GroupRobust:
    """The adversary's weights alpha over groups and the policy's robust loss; one ``step`` per
    micro-batch. ``mass``: each group's total training weight (``membership`` x weights)."""

    def __init__(
        self,
        groups: Sequence[str],
        eta: float,
        mass: torch.Tensor,
        reduce: Reduce | None = None,
    ):
        self.groups = list(groups)
        self.eta = eta
        mass = mass.detach().float().cpu()
        # W / W_g: the importance weight of each group's batch losses.
        self.scale = mass.sum() / mass.clamp(min=1e-12)
        self.reduce = reduce or (lambda t: t)
        self.alpha = torch.full((len(groups),), 1.0 / len(groups)) if groups else torch.zeros(0)
        # Each group's last batch loss (None until a batch held it), for the curves.
        self.last_loss: list[float | None] = [None] * len(groups)

    def update(self, estimate: torch.Tensor) -> None:
        """alpha_g <- alpha_g exp(eta L_g), renormalised (in log space)."""
        logits = torch.log(self.alpha) + self.eta * estimate
        self.alpha = torch.softmax(logits - logits.max(), dim=0)

    def step(
        self, losses: torch.Tensor, weights: torch.Tensor, member: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Update alpha from one batch's per-pair ``losses`` (with grad), row ``weights`` and
        ``member`` (``membership`` rows of the batch); return (robust loss, each group's mean
        loss in the batch, NaN for a group the batch lacks on every process)."""
        loss_sum, weight_sum = group_losses(losses, weights.to(losses.dtype), member.to(losses))
        batch_weight = weights.sum().to(losses.dtype).reshape(1)
        local = torch.cat([loss_sum.detach(), weight_sum.detach(), batch_weight.detach()])
        totals = self.reduce(local.float().cpu())
        g = len(self.groups)
        sums, counts, everyone = totals[:g], totals[g : 2 * g], totals[2 * g].clamp(min=1e-12)
        self.update(self.scale * sums / everyone)
        present = counts > 0
        for k in torch.nonzero(present).flatten().tolist():
            self.last_loss[k] = float(sums[k] / counts[k])
        scale = self.scale.to(losses.device, losses.dtype)
        alpha = self.alpha.to(losses.device, losses.dtype)
        robust = (alpha * scale * loss_sum).sum() / batch_weight.clamp(min=1e-12).squeeze()
        mean = torch.where(present, sums / counts.clamp(min=1e-12), torch.nan)
        return robust, mean

    def metrics(self) -> dict[str, float]:
        """alpha and the last loss of every group seen so far, keyed for the run page's curves."""
        out = {f"robust/alpha/{g}": float(a) for g, a in zip(self.groups, self.alpha, strict=True)}
        for g, value in zip(self.groups, self.last_loss, strict=True):
            if value is not None:
                out[f"robust/loss/{g}"] = value
        return out
