"""annotation.agreement.strengths: Bradley-Terry and Plackett-Luce against their documented
objectives and simulations; the logistic fit and Bradley-Terry through it against direct
maximisation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from annotation import agreement as ag

nan = np.nan


def _simulated_comparisons(theta: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, theta.size, n)
    b = (a + rng.integers(1, theta.size, n)) % theta.size
    p_a = 1 / (1 + np.exp(theta[b] - theta[a]))
    won = (rng.random(n) < p_a).astype(float)
    return np.c_[a, b, won]


THETA = np.array([-1.5, -0.8, -0.3, 0.0, 0.2, 0.6, 0.9, 0.9])
THETA = THETA - THETA.mean()


def test_bradley_terry_recovers_simulated_strengths():
    est = ag.bradley_terry(_simulated_comparisons(THETA, 8000, 0), THETA.size)
    assert est.mean() == pytest.approx(0, abs=1e-12)
    assert np.max(np.abs(est - THETA)) < 0.15


def test_bradley_terry_is_the_map_of_the_documented_objective():
    comparisons = _simulated_comparisons(THETA, 300, 1)
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
    comparisons = _simulated_comparisons(THETA, 500, 3)
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
    comparisons = _simulated_comparisons(THETA, 600, 4)
    bt = ag.bradley_terry_ci(comparisons, THETA.size, n_resamples=60, seed=0)
    assert np.all(bt.low <= bt.estimate) and np.all(bt.estimate <= bt.high)
    items, ranks = _simulated_rankings(THETA, 300, 3, 5)
    pl = ag.plackett_luce_ci(items, ranks, THETA.size, n_resamples=60, seed=0)
    assert np.all(pl.low <= pl.estimate) and np.all(pl.estimate <= pl.high)
    assert np.all(pl.high - pl.low > 0)


# --- Bradley-Terry from pair totals, logistic regression ------------------------------


def test_bradley_terry_pairs_matches_mm_on_expanded_rows():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, 400)
    b = (a + rng.integers(1, 5, 400)) % 5
    score = rng.choice([0.0, 0.5, 1.0], 400, p=[0.3, 0.1, 0.6])
    expected = ag.bradley_terry(np.c_[a, b, score], 5)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    s_lo = np.where(a == lo, score, 1 - score)
    key = lo * 5 + hi
    keys = np.unique(key)
    wins = np.array([s_lo[key == k].sum() for k in keys])
    games = np.array([(key == k).sum() for k in keys], dtype=float)
    got = ag.bradley_terry_pairs(keys // 5, keys % 5, wins, games, 5)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_bradley_terry_pairs_keeps_an_unbeaten_item_finite():
    got = ag.bradley_terry_pairs([0], [1], [10.0], [10.0], 2)
    assert np.all(np.isfinite(got)) and got[0] > got[1]


def test_bradley_terry_pairs_ignores_pairs_that_never_met():
    # A bootstrap resample can leave a pair with zero games: it must weigh nothing.
    met = ag.bradley_terry_pairs([0, 1], [1, 2], [3.0, 1.5], [4.0, 2.0], 3)
    with_empty = ag.bradley_terry_pairs([0, 1, 0], [1, 2, 2], [3.0, 1.5, 0.0], [4.0, 2.0, 0.0], 3)
    np.testing.assert_allclose(with_empty, met, atol=1e-12)
    with pytest.raises(ValueError):
        ag.bradley_terry_pairs([0], [1], [1.0], [1.0], 2, prior_games=0)


def test_logistic_fit_matches_direct_maximisation():
    rng = np.random.default_rng(4)
    x = rng.normal(0, 2, 500)
    y = (rng.random(500) < 1 / (1 + np.exp(-(0.3 + 0.8 * x)))).astype(float)
    fit = ag.logistic_fit_1d(x, y)

    def nll(beta: np.ndarray) -> float:
        z = beta[0] + beta[1] * x
        return float(np.sum(np.logaddexp(0, z) - y * z))

    best = optimize.minimize(nll, [0.0, 0.0], method="BFGS")
    assert fit.converged
    assert fit.coef.tolist() == pytest.approx(best.x, abs=1e-4)
    assert fit.se[1] == pytest.approx(np.sqrt(best.hess_inv[1, 1]), rel=0.1)


def test_logistic_fit_pools_equal_x_without_changing_the_fit():
    x = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 2.0, 3.0])
    y = np.array([0, 1, 0, 1, 1, 1, 0.5, 1])
    w = np.array([1, 2, 1, 1, 3, 1, 2, 1.0])
    pooled = ag.logistic_fit_1d(x, y, w)
    z = lambda b: b[0] + b[1] * x  # noqa: E731
    best = optimize.minimize(
        lambda b: float(np.sum(w * (np.logaddexp(0, z(b)) - y * z(b)))), [0.0, 0.0], method="BFGS"
    )
    assert pooled.coef.tolist() == pytest.approx(best.x, abs=1e-4)


def test_logistic_fit_with_a_design_and_a_ridge_is_the_penalised_maximum():
    rng = np.random.default_rng(6)
    x = np.c_[np.ones(200), rng.normal(0, 1, (200, 2))]
    y = rng.choice([0.0, 0.5, 1.0], 200)
    w = rng.random(200) + 0.5
    penalty = np.array([0.0, 2.0, 0.5])
    fit = ag.logistic_fit(x, y, w, penalty)

    def objective(beta: np.ndarray) -> float:
        z = x @ beta
        return float(np.sum(w * (np.logaddexp(0, z) - y * z)) + penalty @ beta**2 / 2)

    best = optimize.minimize(objective, np.zeros(3), method="BFGS")
    assert fit.converged and fit.coef.tolist() == pytest.approx(best.x, abs=1e-5)
    assert np.all(fit.se > 0)


def test_bradley_terry_covariate_is_the_documented_penalised_fit():
    # Item strengths plus a covariate that pushes the outcome: P(a wins) =
    # expit(theta_a - theta_b + beta x), ridge / 2 on every squared coefficient.
    rng = np.random.default_rng(8)
    comparisons = _simulated_comparisons(THETA, 400, 9)
    x = rng.normal(0, 1, comparisons.shape[0])
    won = rng.random(x.size) < 1 / (1 + np.exp(-(0.8 * x)))
    comparisons[:, 2] = np.where(won, comparisons[:, 2].clip(0.5, 1), comparisons[:, 2] * 0)
    rows = np.c_[comparisons, x]
    a, b, s = rows[:, 0].astype(int), rows[:, 1].astype(int), rows[:, 2]
    ridge = 0.1

    def objective(coef: np.ndarray) -> float:
        z = coef[a] - coef[b] + coef[-1] * x
        return float(np.sum(np.logaddexp(0, z) - s * z) + ridge * coef @ coef / 2)

    best = optimize.minimize(objective, np.zeros(THETA.size + 1), method="BFGS").x
    got = ag.bradley_terry_covariate(rows, THETA.size, ridge)
    assert got[:-1].mean() == pytest.approx(0, abs=1e-12)
    assert got[:-1] == pytest.approx(best[:-1] - best[:-1].mean(), abs=1e-4)
    assert got[-1] == pytest.approx(best[-1], abs=1e-4) and got[-1] > 0.3
