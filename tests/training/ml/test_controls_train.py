"""The controls end to end (issue 11): a tiny reward run stores the length-only and
shuffled-label accuracies beside the model's, overall and per group; GRPO's random rule and
monitor reward."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest

from training.ml.data import PromptRow, row_groups
from training.ml.verifiers import make_rule

from .conftest import preference_rows


def test_random_rule_is_a_seeded_stream_independent_of_the_text() -> None:
    row = PromptRow(prompt=[], answer="42")
    a, b = make_rule("random", {"seed": 7}), make_rule("random", {"seed": 7})
    draws = [a("the answer is 42", row) for _ in range(200)]
    assert draws == [b("anything else", row) for _ in range(200)]  # same seed, any text
    assert set(draws) == {0.0, 1.0} and 70 < sum(draws) < 130
    expected = random.Random(7)
    assert draws[:5] == [float(expected.random() < 0.5) for _ in range(5)]
    c = make_rule("random", {"seed": 8})
    assert [c("x", row) for _ in range(200)] != draws
    uniform = make_rule("random", {"distribution": "uniform", "seed": 1})
    values = [uniform("", row) for _ in range(50)]
    assert all(0 <= v < 1 for v in values) and len(set(values)) == 50
    assert sum(make_rule("random", {"probability": 0.0})("", row) for _ in range(20)) == 0


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"distribution": "gauss"}, "distribution"),
        ({"probability": 1.5}, "probability"),
        ({"seed": "x"}, "seed"),
        ({"rng": 1}, "unknown"),
    ],
)
def test_random_rule_bad_args(args, field) -> None:
    from training.ml.config import ConfigError

    with pytest.raises(ConfigError, match=field):
        make_rule("random", args)


@pytest.mark.slow
def test_reward_run_stores_the_controls(tiny_lm: str, tmp_path: Path) -> None:
    from training.ml.config import RewardConfig
    from training.ml.reward import train_reward

    # Planted: chosen is always the longer reply (plus the happy/sad rule); two groups.
    rows = []
    for i, row in enumerate(preference_rows(160, eval_every=4)):
        rows.append(
            dataclasses.replace(
                row,
                chosen=row.chosen + " and so on and on",
                groups=["young" if (i // 4) % 2 else "old"],
            )
        )
    config = RewardConfig(
        base_model=tiny_lm, learning_rate=1e-3, batch_size=16, epochs=1, max_length=48,
        control_shuffles=3,
    )  # fmt: skip
    result = train_reward(config, rows, tmp_path)
    m = result.metrics
    table = m["controls"]
    assert set(table) == {"overall", "old", "young"}
    overall = table["overall"]
    assert overall["n"] == pytest.approx(40.0)
    assert overall["model"] == pytest.approx(m["eval/accuracy"])
    assert overall["length"] == 1.0 and m["eval/length_accuracy"] == 1.0  # longer always wins
    assert m["controls/length_coef"] > 0
    assert 0.0 <= overall["shuffled"] <= 1.0 and overall["shuffled_std"] >= 0
    assert m["eval/shuffled_accuracy"] == overall["shuffled"]
    for g in ("old", "young"):
        assert table[g]["n"] == pytest.approx(20.0)
        assert table[g]["model"] == pytest.approx(result.group_accuracy[g])

    off = train_reward(dataclasses.replace(config, controls=False), rows, tmp_path / "off")
    assert "controls" not in off.metrics and "eval/length_accuracy" not in off.metrics
    assert row_groups(rows[0]) == ["old"]


@pytest.mark.slow
def test_dpo_run_stores_implicit_accuracy_beside_length(tiny_lm: str, tmp_path: Path) -> None:
    from training.ml.config import DPOConfig
    from training.ml.dpo import train_dpo

    rows = [
        dataclasses.replace(r, groups=["a" if (i // 4) % 2 else "b"])
        for i, r in enumerate(preference_rows(48, eval_every=4))
    ]
    config = DPOConfig(base_model=tiny_lm, batch_size=8, max_steps=2, max_length=48)
    m = train_dpo(config, rows, tmp_path).metrics
    table = m["controls"]
    assert set(table) == {"overall", "a", "b"}
    assert table["overall"]["model"] == pytest.approx(m["eval/rewards/accuracies"])
    assert table["overall"]["n"] == pytest.approx(12.0)
    assert table["overall"]["shuffled"] is None
    assert m["eval/length_accuracy"] == table["overall"]["length"]


@pytest.mark.slow
def test_grpo_random_control_logs_the_monitor_reward(tiny_lm: str, tmp_path: Path) -> None:
    from training.ml.config import GRPOConfig
    from training.ml.grpo import train_grpo

    from .conftest import prompt_rows

    def run(seed_args: dict, out: str) -> dict:
        config = GRPOConfig(
            base_model=tiny_lm, reward_rule="random", reward_rule_args=seed_args,
            monitor_rule="regex", monitor_rule_args={"pattern": "happy"}, batch_size=2,
            num_generations=2, max_new_tokens=4, max_steps=2, max_length=48, seed=5,
        )  # fmt: skip
        return train_grpo(config, prompt_rows(8), tmp_path / out).metrics

    a, b = run({}, "a"), run({"seed": 5}, "b")  # no seed given: the run's seed
    assert 0.0 <= a["train/monitor/mean"] <= 1.0 and "train/monitor/std" in a
    assert a["train/reward/raw"] in (0.0, 0.25, 0.5, 0.75, 1.0) and "train/reward/raw_std" in a
    assert a["train/reward/raw"] == b["train/reward/raw"]  # the same seeded draws
