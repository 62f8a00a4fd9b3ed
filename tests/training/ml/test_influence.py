"""Each pair's influence on training is proportional to its weight, whatever the batching.

A pair's influence in one epoch is the coefficient its own loss term gets in the summed batch
losses (with every reward margin at 0, d loss / d r_chosen = -coefficient / 2). The trainers'
loss is spied on during a real run, so these tests see the weights, the batches
(length-grouped, rankings kept together) and the normalisation the trainer really uses.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from training.ml.data import PreferenceRow

pytestmark = pytest.mark.slow

LONG = " and the cat and the dog and the bird and the fish" * 3  # makes a response long


def planted_rows(majority: int = 90, minority: int = 10) -> list[PreferenceRow]:
    """90/10 groups whose responses differ in length, so length grouping separates them."""
    rows = []
    for i in range(majority + minority):
        big = i < majority
        tail = "" if big else LONG
        rows.append(
            PreferenceRow(
                prompt=[{"role": "user", "content": f"tell me about the cat {i % 7}"}],
                chosen="so happy" + tail,
                rejected="so sad" + tail,
                groups=["big" if big else "small"],
                prompt_id=str(i),
            )
        )
    return rows


def ranking_rows(rankings: int = 12, pairwise: int = 40) -> list[PreferenceRow]:
    """K=4 rankings (6 pairs of weight 1/6 sharing a prompt_id) beside single judgments."""
    rows = []
    answers = ["happy", "good kind", "so so", "sad" + LONG]
    for k in range(rankings):
        prompt = [{"role": "user", "content": f"rank the dog {k}"}]
        for a in range(4):
            for b in range(a + 1, 4):
                rows.append(
                    PreferenceRow(
                        prompt=prompt,
                        chosen=answers[a],
                        rejected=answers[b],
                        weight=1 / 6,
                        prompt_id=f"rank-{k}",
                    )
                )
    for i in range(pairwise):
        rows.append(
            PreferenceRow(
                prompt=[{"role": "user", "content": f"tell me about the sun {i}"}],
                chosen="happy",
                rejected="sad",
                prompt_id=f"pair-{i}",
            )
        )
    return rows


# The loss each trainer calls, the position of its weights argument, and its chosen input.
LOSSES = {
    "reward": ("training.ml.reward", "train_reward", "bradley_terry_loss", 2),
    "dpo": ("training.ml.dpo", "train_dpo", "dpo_loss", 5),
}


def influences(
    kind: str, base: str, rows: list[PreferenceRow], tmp_path: Path, monkeypatch: Any, **config
) -> list[tuple[float, float]]:
    """(weight, influence) of every pair the trainer's loss saw in one epoch."""
    import torch

    from training.ml.config import DPOConfig, RewardConfig

    module_name, train_name, loss_name, at = LOSSES[kind]
    module = importlib.import_module(module_name)
    loss = getattr(module, loss_name)
    seen: list[tuple[float, float]] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        args_list = list(args)
        weights = args_list[at] if len(args_list) > at else kwargs.get("weights")
        if weights is not None and torch.is_grad_enabled():
            n = len(weights)
            probe = torch.zeros(n, requires_grad=True)
            zero = torch.zeros(n)
            inputs = [probe, zero] if kind == "reward" else [probe, zero, zero, zero]
            rest = args_list[len(inputs) :]
            out = loss(*inputs, *rest, **kwargs)
            value = out[0] if isinstance(out, tuple) else out
            (grad,) = torch.autograd.grad(value, probe)
            scale = 2.0 if kind == "reward" else 2.0 / args_list[4]  # beta scales DPO's margin
            coefficients = (-grad * scale).tolist()
            seen.extend(zip(weights.tolist(), coefficients, strict=True))
        return loss(*args, **kwargs)

    monkeypatch.setattr(module, loss_name, spy)
    cls = RewardConfig if kind == "reward" else DPOConfig
    settings = {"epochs": 1, "max_length": 96, "eval_fraction": 0, "learning_rate": 1e-6}
    result = getattr(module, train_name)(
        cls(base_model=base, **{**settings, **config}), rows, tmp_path
    )
    if config.get("group_balance"):  # the run reports each group's share of the influence
        assert result.metrics["train/influence/big"] == pytest.approx(0.5)
        assert result.metrics["train/influence/small"] == pytest.approx(0.5)
    return seen


@pytest.mark.parametrize(("kind", "batch_size"), [("reward", 8), ("reward", 16), ("dpo", 8)])
def test_balanced_groups_share_influence_equally_whatever_the_batching(
    kind: str, batch_size: int, tiny_lm: str, tmp_path: Path, monkeypatch: Any
) -> None:
    from training.ml.data import row_weights

    rows = planted_rows()
    balanced = row_weights(rows, group_balance=True)  # 100 / (2 x 90) and 100 / (2 x 10)
    assert sorted(set(balanced)) == pytest.approx([100 / 180, 5.0])
    seen = influences(
        kind, tiny_lm, rows, tmp_path, monkeypatch, batch_size=batch_size, group_balance=True
    )
    assert len(seen) == len(rows)  # one epoch: every pair once
    total: dict[str, float] = defaultdict(float)
    for weight, influence in seen:
        total["small" if weight > 1 else "big"] += influence
    share = total["big"] / (total["big"] + total["small"])
    assert share == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("batch_size", [8, 16])
def test_a_ranking_counts_as_much_as_one_judgment(
    batch_size: int, tiny_lm: str, tmp_path: Path, monkeypatch: Any
) -> None:
    rows = ranking_rows()
    seen = influences("reward", tiny_lm, rows, tmp_path, monkeypatch, batch_size=batch_size)
    per_ranking = sum(i for w, i in seen if w < 0.5) / 12
    per_judgment = sum(i for w, i in seen if w >= 0.5) / 40
    assert per_ranking == pytest.approx(per_judgment, rel=1e-5)


def test_dpo_accuracies_are_weighted_like_the_loss() -> None:
    import torch

    from training.ml.dpo import reward_metrics

    chosen, rejected = torch.tensor([1.0, 0.0, 2.0]), torch.tensor([0.0, 1.0, 1.0])
    weights = torch.tensor([3.0, 1.0, 0.5])
    assert reward_metrics(chosen, rejected)["rewards/accuracies"] == pytest.approx(2 / 3)
    assert reward_metrics(chosen, rejected, weights)["rewards/accuracies"] == pytest.approx(
        3.5 / 4.5
    )
    # a batch of the run: the same global denominator as the loss
    assert reward_metrics(chosen, rejected, weights, 8.0)["rewards/accuracies"] == 3.5 / 8


def test_dpo_eval_loss_is_weighted(tiny_lm: str, tmp_path: Path, monkeypatch: Any) -> None:
    import torch

    from training.ml import dpo
    from training.ml.config import DPOConfig

    from .conftest import preference_rows

    loss, evaluated = dpo.dpo_loss, []

    def spy(*args: Any, **kwargs: Any) -> Any:
        if not torch.is_grad_enabled() or not args[0].requires_grad:
            evaluated.append(args[5] if len(args) > 5 else kwargs.get("weights"))
        return loss(*args, **kwargs)

    monkeypatch.setattr(dpo, "dpo_loss", spy)
    rows = preference_rows(24, eval_every=3, groups=["g"])
    config = DPOConfig(base_model=tiny_lm, max_steps=1, batch_size=8, max_length=48)
    result = dpo.train_dpo(config, rows, tmp_path)
    assert len(evaluated) == 1 and evaluated[0] is not None
    assert len(evaluated[0]) == result.metrics["eval/pairs"] == 8
