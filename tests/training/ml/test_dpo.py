"""DPO end to end: the implicit reward learns the rule; reference log-probs are cached."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from .conftest import preference_rows

pytestmark = pytest.mark.slow


def _config(base: str, **kwargs):
    from training.ml.config import DPOConfig

    defaults = {"learning_rate": 1e-3, "beta": 0.1, "batch_size": 16, "epochs": 2, "max_length": 48}
    return DPOConfig(base_model=base, **{**defaults, **kwargs})


def test_implicit_reward_accuracy_rises_and_policy_reloads(tiny_lm: str, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    from training.ml.dpo import train_dpo

    events = []
    result = train_dpo(
        _config(tiny_lm), preference_rows(160, eval_every=5), tmp_path, on_progress=events.append
    )
    train = [e.metrics for e in events if e.phase == "train" and e.metrics]
    # The first step sees policy == reference: loss ln 2, no margin.
    assert train[0]["train/loss"] == pytest.approx(math.log(2), abs=1e-4)
    assert train[0]["train/rewards/margins"] == pytest.approx(0.0, abs=1e-4)
    assert result.metrics["eval/rewards/accuracies"] > 0.9
    assert result.metrics["eval/rewards/margins"] > 0.3
    assert result.metrics["eval/rewards/chosen"] > result.metrics["eval/rewards/rejected"]
    assert train[-1]["train/loss"] < 0.5
    for key in (
        "rewards/chosen",
        "rewards/rejected",
        "rewards/margins",
        "rewards/accuracies",
        "loss",
    ):
        assert f"train/{key}" in result.metrics and f"eval/{key}" in result.metrics
    AutoModelForCausalLM.from_pretrained(tmp_path)
    assert (tmp_path / "ref_logps.pt").exists()
    assert json.loads((tmp_path / "metrics.json").read_text())["final"]["cancelled"] is False


def test_reference_logps_computed_once_and_reused(
    tiny_lm: str, tmp_path: Path, monkeypatch
) -> None:
    import training.ml.dpo as dpo

    calls: list[int] = []
    original = dpo.sequence_logps

    def counting(accelerator, model, pairs, pad_id, batch_size, on_batch=None, pack=False):
        calls.append(len(pairs))
        return original(accelerator, model, pairs, pad_id, batch_size, on_batch, pack)

    monkeypatch.setattr(dpo, "sequence_logps", counting)
    rows = preference_rows(40)
    cache = tmp_path / "a" / "ref_logps.pt"  # always in the run's own directory
    config = _config(tiny_lm, max_steps=1, eval_fraction=0.0)
    dpo.train_dpo(config, rows, tmp_path / "a")
    assert calls == [40] and cache.exists()  # one pass over every pair
    dpo.train_dpo(config, rows, tmp_path / "a")
    assert calls == [40]  # reused
    dpo.train_dpo(config, rows[:30], tmp_path / "a")
    assert calls == [40, 30]  # other data: recomputed


def test_cancel_saves_the_policy(tiny_lm: str, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    from training.ml.dpo import train_dpo

    result = train_dpo(_config(tiny_lm), preference_rows(80), tmp_path, should_stop=lambda: True)
    assert result.cancelled and result.steps == 1
    AutoModelForCausalLM.from_pretrained(tmp_path)


def test_reference_logps_report_their_progress_then_training_its_steps(
    tiny_lm: str, tmp_path: Path
) -> None:
    """The run page's status line follows the phase (issue 13): "computing reference log-probs
    16/40 pairs", ... "40/40", then the training steps."""
    from training.ml.dpo import train_dpo

    events = []
    config = _config(tiny_lm, max_steps=2, eval_fraction=0.0, batch_size=16)
    train_dpo(config, preference_rows(40), tmp_path, on_progress=events.append)
    ref = [e.message for e in events if e.phase == "ref_logps"]
    assert ref[0] == "computing reference log-probs 0/40 pairs"
    assert ref[-1] == "computing reference log-probs 40/40 pairs"
    assert len(ref) >= 3  # several batches, each reported
    phases = [e.phase for e in events]
    assert phases.index("train") > max(i for i, p in enumerate(phases) if p == "ref_logps")
