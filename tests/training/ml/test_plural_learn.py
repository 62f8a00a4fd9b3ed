"""The pluralistic reward methods learn on planted hidden-context data (issue 15), tiny models.

The data (training.ml.planted): groups "a" and "b" agree that good beats bad; on a contested
subset a response with "apple" is also compared with both, and "a" always prefers it, "b"
never does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from training.ml.planted import contested_items, planted_rows

pytestmark = pytest.mark.slow


def _config(base: str, **kwargs):  # noqa: ANN202
    from training.ml.config import RewardConfig

    defaults = {"learning_rate": 2e-3, "batch_size": 16, "epochs": 8, "max_length": 48}
    return RewardConfig(base_model=base, controls=False, **{**defaults, **kwargs})


def _scores(run_dir: Path, texts: list[str], group: str | None = None):  # noqa: ANN202
    from training.ml.batches import collate_sequences, encode
    from training.ml.score import RewardReader

    reader = RewardReader(run_dir, group=group)
    prompt = [{"role": "user", "content": "tell me about the"}]
    encoded = [encode(reader.tokenizer, prompt, t, 48) for t in texts]
    batch = collate_sequences(encoded, reader.tokenizer.pad_token_id)
    return reader(batch["input_ids"], batch["attention_mask"])


def test_dpl_top_sigma_pairs_are_the_contested_ones(tiny_lm: str, tmp_path: Path) -> None:
    from training.ml.reward import train_reward

    rows = planted_rows()
    contested = contested_items(rows)
    # sigma is learned after mu (a second-order signal): longer, at a lower rate; seeds 0-3
    # gave precision 1.0, 1.0, 0.83, 1.0 (bench/bench_plural.py shows it per seed)
    config = _config(
        tiny_lm, method="dpl", epochs=20, learning_rate=1e-3, dpl_top_pairs=len(contested)
    )
    result = train_reward(config, rows, tmp_path)
    dpl = result.metrics["dpl"]
    top = dpl["top_pairs"]
    assert len(top) == len(contested) == 24
    precision = sum(p["item_id"] in contested for p in top) / len(contested)
    assert precision >= 0.9, [(p["item_id"], round(p["sigma"], 3)) for p in top]
    assert dpl["split_precision"] >= 0.9  # the same, from the labelers' own split
    # scoring reads mu and sigma: apple's utility is wide, good's narrow
    _, sigma = _scores(tmp_path, ["so apple the", "so good the"])
    assert sigma is not None and sigma[0] > sigma[1]


def test_conditioned_model_matches_separate_group_models(tiny_lm: str, tmp_path: Path) -> None:
    from training.ml.reward import train_reward

    config = _config(tiny_lm, method="conditioned", per_group=True, learning_rate=1e-3)
    result = train_reward(config, planted_rows(), tmp_path)
    cross = result.metrics["cross_group_accuracy"]
    matrix = result.metrics["conditioned_matrix"]
    for g in ("a", "b"):
        own = result.group_accuracy[g]
        assert own == matrix[g][g] == cross["conditioned"][g]
        # within noise of group g's own model on g's held-out pairs (24 distinct pairs: 1 SE
        # of an accuracy near 0.9 is about 0.06)
        assert own >= cross[g][g] - 0.1, (g, own, cross[g][g])
    # conditioning on the other group costs exactly the contested pairs
    assert matrix["a"]["b"] < matrix["b"]["b"] and matrix["b"]["a"] < matrix["a"]["a"]
    costs = result.metrics["model_costs"]
    assert set(costs) == {"pooled", "a", "b"} and costs["pooled"]["parameters"] > 0
    apple_good = ["so apple the", "so good the"]
    for_a, _ = _scores(tmp_path, apple_good, group="a")
    for_b, _ = _scores(tmp_path, apple_good, group="b")
    assert for_a[0] > for_a[1] and for_b[0] < for_b[1]


def test_odin_moves_length_to_the_length_head(tiny_lm: str, tmp_path: Path) -> None:
    from training.ml.reward import train_reward

    config = _config(tiny_lm, method="odin", learning_rate=1e-3)
    result = train_reward(config, planted_rows(length_bias=True), tmp_path)
    corr = result.metrics["odin"]["length_correlation"]
    assert corr["length"] > 0.5 and abs(corr["quality"]) < corr["length"], corr
    assert result.metrics["odin"]["total_accuracy"] > 0.7
    score, uncertainty = _scores(tmp_path, ["so good the", "so bad the"])
    assert score.shape == (2,) and uncertainty is None  # the quality head alone


def test_ensemble_scores_with_its_spread(tiny_lm: str, tmp_path: Path) -> None:
    from training.ml.reward import train_reward
    from training.ml.score import read_head

    config = _config(tiny_lm, ensemble_size=2, epochs=3, ensemble_lambda=1.0)
    result = train_reward(config, planted_rows(prompts=24), tmp_path)
    figures = result.metrics["ensemble"]
    assert len(figures["member_accuracy"]) == 2 and figures["accuracy"] > 0.6
    assert figures["std_mean"] > 0
    assert read_head(tmp_path).members == ["", "ensemble/01"]
    assert (tmp_path / "ensemble" / "01" / "config.json").exists()
    score, std = _scores(tmp_path, ["so good the", "so bad the"])
    assert std is not None and (std > 0).all()
    assert set(result.metrics["model_costs"]) == {"pooled", "ensemble/01"}
