"""The learning rate decays to exactly zero at the last optimizer step, after every pair of every
epoch was trained on.

Total steps must be planned from the batches the trainer really makes: length-grouped batches of
rankings (6 pairs that stay together) pack into a number of batches that depends on the lengths
(and, past one megabatch, on each epoch's shuffle). The reward trainer planned with zero
lengths: here 11 batches per epoch planned for the 10 it makes, so the schedule stopped short
of zero.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from training.ml.data import PreferenceRow

pytestmark = pytest.mark.slow

ANSWERS = ["happy", "good kind", "so so", "sad"]


def mixed_rows(rankings: int = 9, pairwise: int = 13, seed: int = 0) -> list[PreferenceRow]:
    """K=4 rankings and single judgments of varied lengths."""
    rng = random.Random(seed)
    rows = []
    for k in range(rankings):
        tail = " and the cat" * rng.randint(0, 8)
        prompt = [{"role": "user", "content": f"rank the dog {k}"}]
        for a in range(4):
            for b in range(a + 1, 4):
                rows.append(
                    PreferenceRow(
                        prompt=prompt,
                        chosen=ANSWERS[a] + tail,
                        rejected=ANSWERS[b] + tail,
                        weight=1 / 6,
                        prompt_id=f"rank-{k}",
                    )
                )
    for i in range(pairwise):
        tail = " and the sun" * rng.randint(0, 8)
        rows.append(
            PreferenceRow(
                prompt=[{"role": "user", "content": f"tell me about the sun {i}"}],
                chosen="happy" + tail,
                rejected="sad" + tail,
                prompt_id=f"pair-{i}",
            )
        )
    return rows


@pytest.mark.parametrize("kind", ["reward", "dpo"])
def test_learning_rate_reaches_zero_at_the_last_step(
    kind: str, tiny_lm: str, tmp_path: Path, monkeypatch: Any
) -> None:
    import torch

    from training.ml import dpo, reward
    from training.ml.config import DPOConfig, RewardConfig

    module, name = (reward, "bradley_terry_loss") if kind == "reward" else (dpo, "dpo_loss")
    loss, trained = getattr(module, name), []

    def count(*args: Any, **kwargs: Any) -> Any:
        if torch.is_grad_enabled():
            trained.append(len(args[0]))
        return loss(*args, **kwargs)

    monkeypatch.setattr(module, name, count)
    settings = {"epochs": 3, "batch_size": 8, "max_length": 96, "eval_fraction": 0}
    rows = mixed_rows()
    if kind == "reward":
        result = reward.train_reward(RewardConfig(base_model=tiny_lm, **settings), rows, tmp_path)
    else:
        result = dpo.train_dpo(DPOConfig(base_model=tiny_lm, **settings), rows, tmp_path)
    history = json.loads((tmp_path / "metrics.json").read_text())["history"]
    rates = [h["train/learning_rate"] for h in history if "train/learning_rate" in h]
    assert sum(trained) == 3 * len(rows)  # every pair of every epoch
    assert result.steps == result.total_steps == len(rates)
    assert rates[-1] == 0.0 and min(rates[:-1]) > 0
