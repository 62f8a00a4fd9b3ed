"""The "demo" presets learn the demo's planted signal on the tiny model (issue 11): the reward
preset's held-out accuracy is well above chance and DPO's held-out margin grows, in a few
steps on a CPU (the full presets' figures are in README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotation.demo.planted import YOUNG, planted_items, planted_rows

pytestmark = pytest.mark.slow


def _rows():  # noqa: ANN202
    from training.ml.data import PreferenceRow

    items = planted_items(80)
    rows = planted_rows(items[::4], {YOUNG: 1}, seed=1, split="eval")
    train = [i for n, i in enumerate(items) if n % 4]
    rows += planted_rows(train, {YOUNG: 2}, seed=0, split="train")
    return [PreferenceRow(**r) for r in rows]


def test_the_reward_demo_preset_learns_the_planted_signal(tiny_lm: str, tmp_path: Path) -> None:
    from training.ml.config import RewardConfig
    from training.ml.presets import preset_values
    from training.ml.reward import train_reward

    values = {**preset_values("reward", "demo"), "max_steps": 15}
    result = train_reward(RewardConfig(base_model=tiny_lm, **values), _rows(), tmp_path)
    assert result.metrics["eval/accuracy"] >= 0.7  # 90 % consistent labels; chance is 0.5


def test_the_dpo_demo_preset_grows_the_margin(tiny_lm: str, tmp_path: Path) -> None:
    from training.ml.config import DPOConfig
    from training.ml.dpo import train_dpo
    from training.ml.presets import preset_values

    values = {**preset_values("dpo", "demo"), "max_steps": 8}
    result = train_dpo(DPOConfig(base_model=tiny_lm, **values), _rows(), tmp_path)
    assert result.metrics["eval/rewards/margins"] > 0.1  # starts at 0 (policy = reference)
    assert result.metrics["eval/rewards/accuracies"] >= 0.7
