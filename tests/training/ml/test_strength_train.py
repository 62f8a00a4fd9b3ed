"""Issue 11 (7) end to end on the tiny models: the strength option reaches the trainers' loss."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from .conftest import preference_rows

pytestmark = pytest.mark.slow


def _first_loss(events: list) -> float:
    return next(e.metrics for e in events if e.phase == "train" and e.metrics)["train/loss"]


def test_dpo_first_step_loss_is_the_offset_hand_computation(tiny_lm: str, tmp_path: Path) -> None:
    from training.ml.config import DPOConfig
    from training.ml.dpo import train_dpo

    rows = [dataclasses.replace(r, strength=1.0) for r in preference_rows(16)]
    config = DPOConfig(
        base_model=tiny_lm,
        batch_size=8,
        max_steps=1,
        max_length=48,
        eval_fraction=0.0,
        strength="margin",
    )
    events: list = []
    train_dpo(config, rows, tmp_path, on_progress=events.append)
    # Policy == reference at the first step: -log sigmoid(0 - 1) = log(1 + e).
    assert _first_loss(events) == pytest.approx(math.log1p(math.e), abs=1e-4)


def test_reward_margin_raises_and_uniform_weight_keeps_the_first_loss(
    tiny_lm: str, tmp_path: Path
) -> None:
    from training.ml.config import RewardConfig
    from training.ml.reward import train_reward

    rows = [dataclasses.replace(r, strength=1.0) for r in preference_rows(16)]
    losses = {}
    for mode in ("ignore", "margin", "weight"):
        config = RewardConfig(
            base_model=tiny_lm, batch_size=8, max_steps=1, max_length=48, strength=mode
        )
        events: list = []
        train_reward(config, rows, tmp_path / mode, on_progress=events.append)
        losses[mode] = _first_loss(events)
    # A margin of 1 on every pair makes the same rewards cost more; a uniform strength factor
    # cancels in the global normaliser.
    assert losses["margin"] > losses["ignore"] + 0.2
    assert losses["weight"] == pytest.approx(losses["ignore"], abs=1e-6)
