"""Issue 11 (7): the 8-point strength as a margin (Llama 2, ODPO) or as a weight.

Losses on hand-written tensors; weights and margins from rows; the config option.
"""

from __future__ import annotations

import math

import pytest
import torch

from training.ml.config import ConfigError, DPOConfig, RewardConfig, from_dict
from training.ml.data import (
    DataError,
    PreferenceRow,
    influence_shares,
    loss_denominator,
    parse_preference_lines,
    row_margins,
    row_weights,
)
from training.ml.dpo import dpo_loss
from training.ml.reward import bradley_terry_loss


def log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


def row(strength: float | None, group: str = "g", weight: float = 1.0) -> PreferenceRow:
    prompt = [{"role": "user", "content": "q"}]
    return PreferenceRow(
        prompt=prompt, chosen="c", rejected="r", weight=weight, groups=[group], strength=strength
    )


def test_margin_loss_equals_a_hand_computation() -> None:
    chosen, rejected = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([1.0, 0.5, 0.0])
    margins = torch.tensor([1.0, 2 / 3, 0.0])
    weights = torch.tensor([1.0, 0.5, 0.25])
    # d - m = 0, -2/3, -1
    hand = [-log_sigmoid(0.0), -log_sigmoid(-2 / 3), -log_sigmoid(-1.0)]
    got = bradley_terry_loss(chosen, rejected, margins=margins)
    assert got.item() == pytest.approx(sum(hand) / 3, abs=1e-6)
    got = bradley_terry_loss(chosen, rejected, weights, denominator=4.0, margins=margins)
    expected = (1.0 * hand[0] + 0.5 * hand[1] + 0.25 * hand[2]) / 4.0
    assert got.item() == pytest.approx(expected, abs=1e-6)


def test_zero_margin_is_the_plain_bradley_terry_loss() -> None:
    chosen, rejected = torch.tensor([0.3, -0.2]), torch.tensor([0.1, 0.4])
    plain = bradley_terry_loss(chosen, rejected)
    assert bradley_terry_loss(chosen, rejected, margins=torch.zeros(2)).item() == plain.item()


def test_dpo_offset_equals_a_hand_computation() -> None:
    beta = 0.5
    pc, pr = torch.tensor([-3.0, -5.0]), torch.tensor([-4.0, -5.0])
    rc, rr = torch.tensor([-3.5, -4.0]), torch.tensor([-3.5, -6.0])
    margins = torch.tensor([1.0, 1 / 3])
    # beta * ((pc - rc) - (pr - rr)) = 0.5 * (0.5 - -0.5) = 0.5 ; 0.5 * (-1 - 1) = -1
    hand = [-log_sigmoid(0.5 - 1.0), -log_sigmoid(-1.0 - 1 / 3)]
    loss, chosen_rewards, _ = dpo_loss(pc, pr, rc, rr, beta, margins=margins)
    assert loss.item() == pytest.approx(sum(hand) / 2, abs=1e-6)
    # The implicit rewards are not shifted by the offset.
    assert chosen_rewards.tolist() == pytest.approx([0.25, -0.5])


def test_scale_margins_follow_the_margin_scale_and_only_in_margin_mode() -> None:
    rows = [row(1.0), row(2 / 3), row(1 / 3), row(0.0), row(None)]
    llama_large = row_margins(rows, strength="margin", margin_scale=3.0)
    assert llama_large == pytest.approx([3.0, 2.0, 1.0, 0.0, 0.0])
    assert row_margins(rows, strength="weight", margin_scale=3.0) == [0.0] * 5
    assert row_margins(rows, strength="ignore", margin_scale=3.0) == [0.0] * 5


def test_strength_as_weight_moves_influence_to_strong_pairs() -> None:
    rows = [row(1.0), row(0.0), row(None, weight=0.5)]
    assert row_weights(rows, group_balance=False) == [1.0, 1.0, 0.5]
    weights = row_weights(rows, group_balance=False, strength="weight")
    assert weights == pytest.approx([1.0, 0.25, 0.5])  # (1 + 3 s) / 4; no strength: x1
    # Through the global normaliser, a "much better" pair pulls 4x a "marginally better" one.
    denominator = loss_denominator(weights, batch_size=3)
    influence = [w / denominator for w in weights]
    assert influence[0] / influence[1] == pytest.approx(4.0)


def test_strength_as_weight_keeps_group_balance() -> None:
    rows = [row(1.0, "many")] * 9 + [row(0.0, "few")]
    weights = row_weights(rows, group_balance=True, strength="weight")
    assert influence_shares(rows, weights) == pytest.approx({"few": 0.5, "many": 0.5})
    unbalanced = row_weights(rows, group_balance=False, strength="weight")
    assert influence_shares(rows, unbalanced)["few"] == pytest.approx(0.25 / 9.25)


def test_rows_read_an_optional_strength() -> None:
    base = '{"prompt": [{"role": "user", "content": "q"}], "chosen": "c", "rejected": "r"'
    rows = parse_preference_lines([base + "}", base + ', "strength": 0.5}'])
    assert [r.strength for r in rows] == [None, 0.5]
    with pytest.raises(DataError, match="strength"):
        parse_preference_lines([base + ', "strength": 2}'])


def test_config_strength_option_defaults_to_ignore_and_is_checked() -> None:
    assert RewardConfig(base_model="m").strength == "ignore"
    assert DPOConfig(base_model="m").strength == "ignore"
    cfg = from_dict(RewardConfig, {"base_model": "m", "strength": "margin", "margin_scale": 3})
    assert (cfg.strength, cfg.margin_scale) == ("margin", 3.0)
    with pytest.raises(ConfigError, match="strength"):
        DPOConfig(base_model="m", strength="offset")
    with pytest.raises(ConfigError, match="margin_scale"):
        RewardConfig(base_model="m", strength="margin", margin_scale=-1.0)
