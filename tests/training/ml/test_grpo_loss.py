"""GRPO loss types on hand-written tensors (issue 11): per-sequence mean (Shao et al. 2024),
Dr. GRPO's token sum over a constant (Liu et al. 2025) and DAPO's token-level mean (Yu et al.
2025)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def _batch():  # noqa: ANN202
    import torch

    # Policy = old = reference: ratio 1 and KL 0, so each token's loss is -A of its sequence.
    logps = torch.zeros(2, 4)
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    advantages = torch.tensor([1.0, -1.0])
    return logps, mask, advantages


@pytest.mark.parametrize(
    ("loss_type", "expected"),
    [
        ("grpo", (-1.0 + 1.0) / 2),  # mean over sequences of each sequence's token mean
        ("dapo", (-3.0 + 1.0) / 4),  # mean over the batch's 4 completion tokens
        ("dr_grpo", (-3.0 + 1.0) / (2 * 4)),  # token sum / (sequences x max_new_tokens)
    ],
)
def test_loss_types_by_hand(loss_type: str, expected: float) -> None:
    from training.ml.grpo import grpo_loss

    logps, mask, advantages = _batch()
    loss, _ = grpo_loss(
        logps, logps, logps, advantages, mask, 0.2, 0.04, loss_type=loss_type, max_tokens=4
    )
    assert loss.item() == pytest.approx(expected)


def test_kl_term_is_k3_by_hand() -> None:
    import math

    import torch

    from training.ml.grpo import grpo_loss

    logps = torch.tensor([[math.log(0.5)]])
    ref = torch.tensor([[math.log(0.25)]])
    loss, parts = grpo_loss(
        logps, logps, ref, torch.tensor([0.0]), torch.ones(1, 1), 0.2, 0.1, loss_type="dapo"
    )
    k3 = 0.5 - math.log(0.5) - 1  # pi_ref/pi - log(pi_ref/pi) - 1
    assert parts["kl"].item() == pytest.approx(k3)
    assert loss.item() == pytest.approx(0.1 * k3)


@pytest.mark.parametrize("loss_type", ["grpo", "dapo", "dr_grpo"])
def test_chunks_add_up_to_the_batch_loss(loss_type: str) -> None:
    """GRPO runs a step's samples in micro-batches: their losses must sum to the batch's."""
    import torch

    from training.ml.grpo import grpo_loss

    g = torch.Generator().manual_seed(0)
    logps, old, ref = (torch.randn(6, 5, generator=g) * 0.1 for _ in range(3))
    mask = (torch.rand(6, 5, generator=g) > 0.3).float()
    mask[:, 0] = 1
    adv = torch.randn(6, generator=g)
    args = {"loss_type": loss_type, "max_tokens": 5}
    whole, _ = grpo_loss(logps, old, ref, adv, mask, 0.2, 0.04, **args)
    parts = [
        grpo_loss(
            logps[c],
            old[c],
            ref[c],
            adv[c],
            mask[c],
            0.2,
            0.04,
            batch_rows=6,
            batch_tokens=mask.sum().item(),
            **args,
        )[0]
        for c in (slice(0, 2), slice(2, 4), slice(4, 6))
    ]
    assert sum(p.item() for p in parts) == pytest.approx(whole.item(), rel=1e-5)


def test_group_advantages_with_and_without_std_scaling() -> None:
    import torch

    from training.ml.grpo import group_advantages

    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 2.0])
    scaled = group_advantages(rewards, 4)
    assert scaled[:4].tolist() == pytest.approx(
        [0.75 / 0.5001, -0.25 / 0.5001, -0.25 / 0.5001, -0.25 / 0.5001]
    )
    assert scaled[4:].tolist() == [0.0] * 4
    plain = group_advantages(rewards, 4, scale=False)
    assert plain.tolist() == pytest.approx([0.75, -0.25, -0.25, -0.25, 0, 0, 0, 0])


def test_loss_type_is_checked() -> None:
    from training.ml.config import ConfigError, GRPOConfig

    assert GRPOConfig(base_model="m", reward_rule="regex").loss_type == "grpo"
    with pytest.raises(ConfigError, match="loss_type"):
        GRPOConfig(base_model="m", reward_rule="regex", loss_type="ppo")
