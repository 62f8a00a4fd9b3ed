"""Reward-model training end to end on tiny models and rule-based preferences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import preference_rows

pytestmark = pytest.mark.slow


def _config(base: str, **kwargs):
    from training.ml.config import RewardConfig

    defaults = {
        "learning_rate": 1e-3,
        "batch_size": 16,
        "epochs": 2,
        "max_length": 48,
        "log_every": 5,
    }
    return RewardConfig(base_model=base, **{**defaults, **kwargs})


@pytest.mark.parametrize("backbone", ["tiny_lm", "tiny_encoder"])
def test_learns_the_rule_and_reloads(backbone: str, request, tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from training.ml.batches import collate_sequences, encode
    from training.ml.reward import train_reward

    base = request.getfixturevalue(backbone)
    events = []
    result = train_reward(
        _config(base), preference_rows(240, eval_every=4), tmp_path, on_progress=events.append
    )
    assert result.metrics["eval/accuracy"] > 0.9
    assert not result.cancelled and result.steps == result.total_steps
    assert [e.phase for e in events][0] == "setup" and events[-1].phase == "done"
    assert any(e.phase == "train" and "train/loss" in e.metrics for e in events)

    # Artifacts: a plain HF reward model + tokenizer, and metrics.json.
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    tok = AutoTokenizer.from_pretrained(tmp_path)
    msgs = [{"role": "user", "content": "tell me about the moon"}]
    batch = collate_sequences(
        [encode(tok, msgs, t, 48) for t in ("so happy", "so sad")], tok.pad_token_id
    )
    with torch.no_grad():
        scores = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[
            :, 0
        ]
    assert scores[0] > scores[1]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["final"]["eval/accuracy"] == result.metrics["eval/accuracy"]
    assert metrics["config"]["base_model"] == base
    assert metrics["history"][-1]["step"] == result.steps


def test_per_group_models_and_cross_group_matrix(tiny_lm: str, tmp_path: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    from training.ml.reward import train_reward

    # Two groups holding opposite rules on the same kind of pairs.
    rows = preference_rows(160, seed=1, groups=["a"], eval_every=4) + preference_rows(
        160, seed=2, good="sad", bad="happy", groups=["b"], eval_every=4
    )
    result = train_reward(_config(tiny_lm, per_group=True, epochs=3), rows, tmp_path)
    cross = result.cross_group_accuracy
    assert cross is not None and set(cross) == {"pooled", "a", "b"}
    assert cross["a"]["a"] > 0.85 and cross["b"]["b"] > 0.85  # each wins on its own group
    assert cross["a"]["b"] < 0.15 and cross["b"]["a"] < 0.15  # and loses on the other's
    assert 0.25 < cross["pooled"]["a"] < 0.75 and 0.25 < cross["pooled"]["b"] < 0.75  # near chance
    assert result.group_accuracy == cross["pooled"]
    metrics = json.loads((tmp_path / "metrics.json").read_text())["final"]
    assert metrics["cross_group_accuracy"] == cross
    for group, where in metrics["group_dirs"].items():
        assert group in ("a", "b")
        AutoModelForSequenceClassification.from_pretrained(tmp_path / where)
    AutoModelForSequenceClassification.from_pretrained(tmp_path)  # the pooled model at the root


def test_group_balance_stops_the_bigger_group_from_winning(tiny_lm: str, tmp_path: Path) -> None:
    from training.ml.reward import train_reward

    rows = preference_rows(240, seed=1, groups=["big"], eval_every=4) + preference_rows(
        80, seed=2, good="sad", bad="happy", groups=["small"], eval_every=4
    )
    plain = train_reward(_config(tiny_lm, epochs=1), rows, tmp_path / "plain").group_accuracy
    balanced = train_reward(
        _config(tiny_lm, epochs=1, group_balance=True), rows, tmp_path / "bal"
    ).group_accuracy
    assert plain["big"] > 0.8  # by size, the big group's rule wins
    assert balanced["small"] > plain["small"] + 0.2  # balanced, the small group counts as much


def test_cancel_stops_early_and_still_saves(tiny_lm: str, tmp_path: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    from training.ml.reward import train_reward

    polls = []
    result = train_reward(
        _config(tiny_lm),
        preference_rows(200),
        tmp_path,
        should_stop=lambda: polls.append(1) or len(polls) >= 2,
    )
    assert result.cancelled and result.steps == 2 < result.total_steps
    AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert json.loads((tmp_path / "metrics.json").read_text())["final"]["cancelled"] is True


def test_bad_data_file_names_line_and_field(tiny_lm: str, tmp_path: Path) -> None:
    from training.ml.data import DataError
    from training.ml.reward import train_reward

    path = tmp_path / "rows.jsonl"
    path.write_text(
        '{"prompt": [{"role": "user", "content": "hi"}], "chosen": "a", "rejected": "b"}\n'
        '{"prompt": [{"role": "user", "content": "hi"}], "chosen": "a", "rejected": null}\n'
    )
    with pytest.raises(DataError, match="rows.jsonl: line 2: field 'rejected' must be str"):
        train_reward(_config(tiny_lm), path, tmp_path / "out")


def test_per_group_models_have_their_own_curves_and_step_counts(
    tiny_lm: str, tmp_path: Path
) -> None:
    """Issue 11: with max_steps 3 and three models, progress says "step N of 3" per model (not
    "step 9 of 9") and each group model's metrics are keyed group/<name>/..., from step 1."""
    from training.ml.progress import ProgressEvent
    from training.ml.reward import train_reward

    rows = preference_rows(24, seed=1, groups=["a"]) + preference_rows(24, seed=2, groups=["b"])
    events: list[ProgressEvent] = []
    result = train_reward(
        _config(tiny_lm, per_group=True, max_steps=3, log_every=1),
        rows,
        tmp_path,
        on_progress=events.append,
    )
    assert all(e.total_steps == 3 and 0 <= e.step <= 3 for e in events)
    steps_of: dict[str, list[int]] = {}
    for e in (e for e in events if e.phase == "train"):
        for name in e.metrics:
            if name.endswith("train/loss"):
                steps_of.setdefault(name, []).append(e.step)
    assert steps_of == {
        "train/loss": [1, 2, 3],
        "group/a/train/loss": [1, 2, 3],
        "group/b/train/loss": [1, 2, 3],
    }
    assert any("model for group 'b' (3 of 3)" in e.message for e in events)
    assert (result.steps, result.total_steps) == (3, 3)
    assert "train/loss" in result.metrics  # the pooled model's last step
