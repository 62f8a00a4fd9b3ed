"""Latent groups by EM over labelers (training.ml.latent_groups): the adjusted Rand index
against known values, the E-step / M-step bookkeeping on hand-written arrays, and a learning
test on planted labeler populations with no group attribute (training.ml.planted)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training.ml.config import ConfigError, RewardConfig
from training.ml.data import PreferenceRow
from training.ml.latent_groups import (
    adjusted_rand_index,
    cluster_row_weights,
    contingency,
    declared_groups,
    initial_clusters,
    kmeans,
    labeler_units,
    mixing_weights,
    responsibilities,
    vote_matrix,
)
from training.ml.planted_labelers import labeler_rows

pytestmark = pytest.mark.slow  # the module imports torch


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0, 0, 1, 1], [1, 1, 0, 0], 1.0),  # same partition, other names
        ([0, 0, 1, 2], [0, 0, 1, 1], 4 / 7),  # scikit-learn's documented 0.571...
        ([0, 0, 1, 1], [0, 1, 0, 1], -0.5),  # worse than chance
        ([0, 0, 0, 0], [0, 1, 2, 3], 0.0),
        ([0, 0, 0], ["x", "x", "x"], 1.0),  # both one cluster
    ],
)
def test_adjusted_rand_index_known_values(a, b, expected):
    assert adjusted_rand_index(a, b) == pytest.approx(expected)


def test_adjusted_rand_index_by_hand():
    # table [[2, 1], [0, 3]]: sum C(n_ij, 2) = 1 + 3 = 4; rows C(3,2)+C(3,2) = 6;
    # cols C(2,2)+C(4,2) = 7; C(6,2) = 15: expected 6*7/15 = 2.8, max 6.5 -> (4-2.8)/(6.5-2.8)
    a, b = [0, 0, 0, 1, 1, 1], ["p", "p", "q", "q", "q", "q"]
    assert adjusted_rand_index(a, b) == pytest.approx(1.2 / 3.7)


def test_responsibilities_sum_each_labelers_weighted_log_likelihood():
    loglik = np.log([[0.9, 0.2], [0.6, 0.6], [0.3, 0.8]])
    unit_of = np.array([0, 0, 1])
    weights = np.array([1.0, 0.5, 2.0])
    prior = np.log([0.25, 0.75])
    gamma = responsibilities(loglik, unit_of, weights, 2, prior)
    u0 = np.array([0.25 * 0.9 * 0.6**0.5, 0.75 * 0.2 * 0.6**0.5])
    u1 = np.array([0.25 * 0.3**2, 0.75 * 0.8**2])
    assert gamma == pytest.approx(np.stack([u0 / u0.sum(), u1 / u1.sum()]))


def test_m_step_weights_and_mixing():
    gamma = np.array([[1.0, 0.0], [0.25, 0.75]])
    assert cluster_row_weights(gamma, np.array([1, 0, 1]), np.array([2.0, 1.0, 4.0])) == (
        pytest.approx(np.array([[0.5, 1.5], [1.0, 0.0], [1.0, 3.0]]))
    )
    assert mixing_weights(gamma) == pytest.approx([0.625, 0.375])
    floored = mixing_weights(np.array([[1.0, 0.0], [1.0, 0.0]]))
    assert floored[1] > 0 and floored.sum() == pytest.approx(1.0)  # an empty cluster can return


def _row(labeler, chosen="a", rejected="b", prompt_id="p", groups=()):
    return PreferenceRow(
        prompt=[{"role": "user", "content": "q"}], chosen=chosen, rejected=rejected,
        prompt_id=prompt_id, labeler=labeler, groups=list(groups),
    )  # fmt: skip


def test_units_votes_and_declared_groups():
    rows = [
        _row("L-1", "a", "b", groups=["x"]), _row("L-2", "b", "a", groups=["y"]),
        _row(None, "a", "b"), _row("L-1", "c", "d", prompt_id="q", groups=["y"]),
        _row("L-1", "a", "b", prompt_id="r", groups=["x"]),
    ]  # fmt: skip
    names, unit_of = labeler_units(rows)
    assert names == ["L-1", "L-2", "row-2"] and unit_of.tolist() == [0, 1, 2, 0, 0]
    # only (p, a, b) is judged by two units or more; +1 when the alphabetically first won
    assert vote_matrix(rows, unit_of, 3).tolist() == [[1.0], [-1.0], [1.0]]
    assert declared_groups(rows, unit_of, 3) == ["x", "y", "(none)"]
    assert contingency([0, 1, 1], ["x", "y", "(none)"], 2) == {
        "(none)": [0, 1], "x": [1, 0], "y": [0, 1],
    }  # fmt: skip


def test_kmeans_and_the_vote_start_separate_opposite_voters():
    x = np.array([[1, 1, -1], [1, 0.8, -1], [-1, -1, 1], [-0.9, -1, 1.0]])
    labels = kmeans(x, 2, seed=0)
    assert adjusted_rand_index(labels, [0, 0, 1, 1]) == 1.0
    truth, rows = labeler_rows(per_population=3, common=2, contested=4)
    names, unit_of = labeler_units(rows)
    start = initial_clusters(rows, unit_of, len(names), 2, seed=0)
    assert adjusted_rand_index(start, [truth[n] for n in names]) == 1.0


def test_without_shared_comparisons_the_start_is_random_and_uses_every_cluster():
    truth, rows = labeler_rows(per_population=3, common=1, contested=2, shared=False)
    names, unit_of = labeler_units(rows)
    start = initial_clusters(rows, unit_of, len(names), 3, seed=1)
    assert sorted(set(start.tolist())) == [0, 1, 2]


def test_config_checks_latent_groups():
    for bad in (1, -2):
        with pytest.raises(ConfigError) as raised:
            RewardConfig(base_model="m", latent_groups=bad)
        assert raised.value.field == "latent_groups"
    with pytest.raises(ConfigError):
        RewardConfig(base_model="m", latent_iterations=0)


@pytest.mark.parametrize("shared", [False, True])
def test_em_recovers_planted_labeler_clusters_without_group_attributes(
    tiny_lm: str, tmp_path: Path, shared: bool
):
    """Twelve labelers, two populations opposed on the contested items, no group attribute.
    Without shared items no two labelers judged the same comparison: the start is random and
    only EM's reward models can tell who agrees with whom."""
    from training.ml.reward import train_reward

    truth, rows = labeler_rows(seed=0, shared=shared)
    config = RewardConfig(
        base_model=tiny_lm, learning_rate=1e-3, batch_size=16, max_steps=30, max_length=48,
        latent_groups=2, latent_iterations=4, controls=False,
    )  # fmt: skip
    result = train_reward(config, rows, tmp_path)
    latent = result.metrics["latent_groups"]
    found = latent["assignments"]
    assert set(found) == set(truth)
    assert adjusted_rand_index([found[n] for n in truth], list(truth.values())) >= 0.9
    assert sorted(latent["sizes"]) == [6, 6]
    assert latent["contingency"] == {"(none)": [6, 6]}  # nothing declared
    clusters = latent["eval_accuracy"].values()  # each cluster's own model serves it
    assert min(c["cluster_model"] for c in clusters) >= 0.75
    # the worst-served cluster fares better with its own model than with the pooled one
    assert min(c["cluster_model"] for c in clusters) > min(c["pooled_model"] for c in clusters)
    for j in (1, 2):
        assert (tmp_path / "clusters" / f"{j:02d}" / "config.json").is_file()
    history = json.loads((tmp_path / "metrics.json").read_text())["history"]
    assert any("latent/loglik" in h for h in history)
    assert any("cluster/2/train/loss" in h for h in history)
