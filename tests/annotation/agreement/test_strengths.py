"""annotation.agreement.strengths: Bradley-Terry and Plackett-Luce against their documented
objectives and simulations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from annotation import agreement as ag
from tests.annotation.agreement.published import THETA, simulated_comparisons

nan = np.nan


def test_bradley_terry_recovers_simulated_strengths():
    est = ag.bradley_terry(simulated_comparisons(THETA, 8000, 0), THETA.size)
    assert est.mean() == pytest.approx(0, abs=1e-12)
    assert np.max(np.abs(est - THETA)) < 0.15


def test_bradley_terry_is_the_map_of_the_documented_objective():
    comparisons = simulated_comparisons(THETA, 300, 1)
    comparisons[::7, 2] = 0.5  # some ties
    a, b, s = comparisons[:, 0].astype(int), comparisons[:, 1].astype(int), comparisons[:, 2]

    def negative_log_posterior(theta: np.ndarray, prior: float = 2.0) -> float:
        data = np.sum(s * theta[a] + (1 - s) * theta[b] - np.logaddexp(theta[a], theta[b]))
        virtual = np.sum(prior * (theta / 2 - np.logaddexp(theta, 0)))
        return -(data + virtual)

    best = optimize.minimize(negative_log_posterior, np.zeros(THETA.size), method="BFGS").x
    est = ag.bradley_terry(comparisons, THETA.size, prior_games=2.0)
    assert est == pytest.approx(best - best.mean(), abs=1e-4)


def test_bradley_terry_finite_for_only_ties_and_only_wins():
    # item 0 only wins, item 4 only ties, item 3 only loses.
    comparisons = [
        [0, 1, 1],
        [0, 2, 1],
        [0, 3, 1],
        [1, 2, 0.5],
        [2, 3, 1],
        [4, 1, 0.5],
        [4, 2, 0.5],
    ]
    est = ag.bradley_terry(comparisons, 5)
    assert np.all(np.isfinite(est))
    assert est.argmax() == 0 and est.argmin() == 3
    assert est[1] < est[4] < est[0]
    with pytest.raises(ValueError):
        ag.bradley_terry(comparisons, 5, prior_games=0)
    flipped = np.array(comparisons, dtype=float)[:, [1, 0, 2]]
    flipped[:, 2] = 1 - flipped[:, 2]
    assert ag.bradley_terry(flipped, 5) == pytest.approx(est)


def _simulated_rankings(theta: np.ndarray, n: int, k: int, seed: int):
    # Plackett-Luce sampling via the Gumbel trick: sort theta + Gumbel noise.
    rng = np.random.default_rng(seed)
    items = np.argsort(rng.random((n, theta.size)), axis=1)[:, :k]
    keys = theta[items] + rng.gumbel(size=(n, k))
    ranks = np.argsort(np.argsort(-keys, axis=1), axis=1) + 1.0
    return items, ranks


def test_plackett_luce_recovers_simulated_worths():
    items, ranks = _simulated_rankings(THETA, 3000, 4, 2)
    est = ag.plackett_luce(items, ranks, THETA.size)
    assert np.max(np.abs(est - THETA)) < 0.15


def test_plackett_luce_with_two_items_is_bradley_terry():
    comparisons = simulated_comparisons(THETA, 500, 3)
    comparisons[::5, 2] = 0.5
    s = comparisons[:, 2]
    ranks = np.c_[np.where(s == 0, 2.0, 1.0), np.where(s == 1, 2.0, 1.0)]
    pl = ag.plackett_luce(comparisons[:, :2].astype(int), ranks, THETA.size)
    assert pl == pytest.approx(ag.bradley_terry(comparisons, THETA.size), abs=1e-7)


def _pl_negative_log_posterior(theta, rankings, prior):
    """The docstring's tie rule written out ranking by ranking (independent path)."""
    total = 0.0
    for ranking in rankings:  # list of tied groups, best first
        remaining = [i for group in ranking for i in group]
        for position, group in enumerate(ranking):
            bottom = position == len(ranking) - 1
            weight = (len(group) - 1) / len(group) if bottom else 1.0
            log_sum = np.log(np.sum(np.exp(theta[remaining])))
            total += weight * sum(theta[i] - log_sum for i in group)
            remaining = [i for i in remaining if i not in group]
    total += np.sum(prior * (theta / 2 - np.logaddexp(theta, 0)))
    return -total


def test_plackett_luce_ties_follow_the_documented_rule():
    rankings = [
        [[0], [1, 2], [3]],
        [[2], [0], [1, 3]],
        [[1, 3], [0]],
        [[3], [2], [1], [0]],
        [[0, 1, 2]],
        [[2], [3, 0]],
    ]
    n_items, slots = 4, 4
    items = -np.ones((len(rankings), slots), dtype=int)
    ranks = np.full((len(rankings), slots), nan)
    for r, ranking in enumerate(rankings):
        slot = 0
        for position, group in enumerate(ranking):
            for i in group:
                items[r, slot], ranks[r, slot] = i, position + 1
                slot += 1
    best = optimize.minimize(
        _pl_negative_log_posterior, np.zeros(n_items), args=(rankings, 1.0), method="BFGS"
    ).x
    est = ag.plackett_luce(items, ranks, n_items)
    assert est == pytest.approx(best - best.mean(), abs=1e-4)


def test_preference_model_cis_contain_estimates():
    comparisons = simulated_comparisons(THETA, 600, 4)
    bt = ag.bradley_terry_ci(comparisons, THETA.size, n_resamples=60, seed=0)
    assert np.all(bt.low <= bt.estimate) and np.all(bt.estimate <= bt.high)
    items, ranks = _simulated_rankings(THETA, 300, 3, 5)
    pl = ag.plackett_luce_ci(items, ranks, THETA.size, n_resamples=60, seed=0)
    assert np.all(pl.low <= pl.estimate) and np.all(pl.estimate <= pl.high)
    assert np.all(pl.high - pl.low > 0)


# --- Bradley-Terry from pair totals, logistic regression ------------------------------
