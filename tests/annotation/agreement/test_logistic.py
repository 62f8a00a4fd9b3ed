"""annotation.agreement.logistic: the logistic fit and Bradley-Terry through it against direct
maximisation; the position (home) effect, standard errors and the exact maximum-likelihood fit
against Agresti's published baseball analysis, scipy.optimize and a numeric Hessian."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from annotation import agreement as ag
from tests.annotation.agreement.published import (
    BASEBALL_1987,
    BASEBALL_TEAMS,
    THETA,
    simulated_comparisons,
)


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
    comparisons = simulated_comparisons(THETA, 400, 9)
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


# --- Bradley-Terry with a home / position effect --------------------------------------------


def _baseball() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    home, away, home_wins, away_wins = BASEBALL_1987.T
    games = (home_wins + away_wins).astype(float)
    return home, away, home_wins / games, games


def test_bradley_terry_agresti_baseball_without_home_advantage():
    # Agresti (2002) Table 10.11 col. 3, as checked by BradleyTerry2's tests/test-baseball.R:
    # estimates relative to Baltimore, sorted, 0.68 1.11 1.25 1.29 1.44 1.58, SEs all ~0.3.
    home, away, share, games = _baseball()
    fit = ag.bradley_terry_fit(home, away, share, 7, weight=games)
    baltimore = BASEBALL_TEAMS.index("Baltimore")
    relative = np.delete(fit.theta - fit.theta[baltimore], baltimore)
    assert np.round(np.sort(relative), 2).tolist() == [0.68, 1.11, 1.25, 1.29, 1.44, 1.58]
    e = np.eye(7)
    contrast_se = [
        np.sqrt((e[k] - e[baltimore]) @ fit.covariance @ (e[k] - e[baltimore]))
        for k in range(7)
        if k != baltimore
    ]
    assert np.round(contrast_se, 1).tolist() == [0.3] * 6
    assert np.isnan(fit.position) and fit.prior_games == 0 and fit.converged


def test_bradley_terry_agresti_baseball_with_home_advantage():
    # Agresti (2002) Table 10.11 col. 5 (BradleyTerry2 test-baseball.R): abilities
    # exp(theta) / sum, sorted, 0.044 0.088 0.137 0.157 0.164 0.190 0.220; at.home 0.302.
    home, away, share, games = _baseball()
    fit = ag.bradley_terry_fit(home, away, share, 7, weight=games, position=np.ones(home.size))
    ability = np.exp(fit.theta) / np.exp(fit.theta).sum()
    assert np.round(np.sort(ability), 3).tolist() == [
        0.044, 0.088, 0.137, 0.157, 0.164, 0.190, 0.220,
    ]  # fmt: skip
    assert round(fit.position, 3) == 0.302
    assert fit.covariance.shape == (8, 8)


def _negative_log_likelihood(
    params: np.ndarray, first, second, score, weight, position, n: int
) -> float:
    """-log L with the last item's theta fixed at 0 (written from the model, not the code)."""
    theta = np.r_[params[: n - 1], 0.0]
    gamma = params[n - 1] if position is not None else 0.0
    z = theta[first] - theta[second] + (gamma * position if position is not None else 0.0)
    return -float(np.sum(weight * (score * z - np.logaddexp(0.0, z))))


def _numeric_hessian(f, x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    k = x.size
    hess = np.zeros((k, k))
    for a in range(k):
        for b in range(k):
            ea, eb = np.eye(k)[a] * h, np.eye(k)[b] * h
            hess[a, b] = (f(x + ea + eb) - f(x + ea - eb) - f(x - ea + eb) + f(x - ea - eb)) / (
                4 * h * h
            )
    return hess


def _simulated_positions(seed: int, n_items: int = 5, rows: int = 600):
    rng = np.random.default_rng(seed)
    theta = np.linspace(-1, 1, n_items)
    first = rng.integers(0, n_items, rows)
    second = (first + rng.integers(1, n_items, rows)) % n_items
    position = rng.choice([1.0, -1.0], rows)  # which of the two was shown first
    p = 1 / (1 + np.exp(-(theta[first] - theta[second] + 0.4 * position)))
    score = (rng.random(rows) < p).astype(float)
    score[::9] = 0.5  # some ties
    return first, second, score, position


def test_position_fit_is_the_mle_with_hessian_standard_errors():
    first, second, score, position = _simulated_positions(1)
    weight = np.ones(score.size)
    n = 5

    def nll(params: np.ndarray) -> float:
        return _negative_log_likelihood(params, first, second, score, weight, position, n)

    best = optimize.minimize(nll, np.zeros(n), method="BFGS", options={"gtol": 1e-10}).x
    fit = ag.bradley_terry_fit(first, second, score, n, position=position)
    theta = np.r_[best[: n - 1], 0.0]
    np.testing.assert_allclose(fit.theta, theta - theta.mean(), atol=1e-5)
    assert fit.position == pytest.approx(best[n - 1], abs=1e-5)
    assert 0.2 < fit.position < 0.6  # simulated 0.4
    assert fit.log_likelihood == pytest.approx(-nll(best), abs=1e-8)
    # Covariance of the free parameters = inverse of the numeric Hessian of -log L; the
    # centred thetas' covariance follows by the linear map free -> centred.
    free_cov = np.linalg.inv(_numeric_hessian(nll, best))
    to_centred = np.zeros((n + 1, n))
    to_centred[: n - 1, : n - 1] = np.eye(n - 1)
    to_centred[:n] -= to_centred[:n].mean(axis=0)
    to_centred[n, n - 1] = 1.0
    expected = to_centred @ free_cov @ to_centred.T
    np.testing.assert_allclose(fit.covariance, expected, rtol=1e-4, atol=1e-8)
    assert fit.position_se == pytest.approx(np.sqrt(free_cov[n - 1, n - 1]), rel=1e-4)
    np.testing.assert_allclose(fit.se, np.sqrt(np.diag(expected))[:n], rtol=1e-4)


def test_position_effect_sign_follows_who_was_shown_first():
    first, second, score, position = _simulated_positions(2)
    fit = ag.bradley_terry_fit(first, second, score, 5, position=position)
    swapped = ag.bradley_terry_fit(second, first, 1 - score, 5, position=-position)
    np.testing.assert_allclose(swapped.theta, fit.theta, atol=1e-8)
    assert swapped.position == pytest.approx(fit.position)
    assert swapped.position_se == pytest.approx(fit.position_se)


def test_prior_games_give_bradley_terrys_posterior():
    first, second, score, _ = _simulated_positions(3)
    fit = ag.bradley_terry_fit(first, second, score, 5, prior_games=2.0)
    mm = ag.bradley_terry(np.c_[first, second, score], 5, prior_games=2.0)
    np.testing.assert_allclose(fit.theta, mm, atol=1e-6)
    assert fit.prior_games == 2.0 and np.all(fit.se > 0)


def test_exact_fit_refuses_a_graph_that_is_not_strongly_connected():
    # 0 and 1 trade wins; both beat 2 and 3, who trade wins: {0, 1} never lose to {2, 3}.
    first, second = [0, 1, 0, 1, 2, 3], [1, 0, 2, 3, 3, 2]
    with pytest.raises(ag.NoFiniteMLE, match="not strongly connected") as error:
        ag.bradley_terry_fit(first, second, [1.0] * 6, 4)
    assert error.value.components == [[0, 1], [2, 3]]
    assert "[0, 1]; [2, 3]" in str(error.value) and "prior_games > 0" in str(error.value)
    # One tie across the split (a half win each way) connects it: the MLE exists.
    fit = ag.bradley_terry_fit([*first, 0], [*second, 2], [1.0] * 6 + [0.5], 4)
    assert np.all(np.isfinite(fit.theta)) and fit.theta[0] > fit.theta[2]
    # and with the virtual games any data fit.
    assert np.all(
        np.isfinite(ag.bradley_terry_fit(first, second, [1.0] * 6, 4, prior_games=1).theta)
    )
    with pytest.raises(ag.NoFiniteMLE, match=r"items \[4\] have no comparisons"):
        ag.bradley_terry_fit(first, second, [0.5] * 6, 5)


def test_exact_fit_refuses_a_position_that_decides_every_game():
    # Strongly connected (each beat the other), but the one shown first always won.
    first, second, position = [0, 1, 0, 1], [1, 0, 1, 0], [1.0, 1.0, -1.0, -1.0]
    score = [1.0, 1.0, 0.0, 0.0]
    ag.bradley_terry_fit(first, second, score, 2)  # no position effect: fine
    with pytest.raises(ag.NoFiniteMLE, match="position effect is not finite"):
        ag.bradley_terry_fit(first, second, score, 2, position=position)
    fit = ag.bradley_terry_fit(first, second, score, 2, position=position, prior_games=1)
    assert fit.position > 0


def test_bradley_terry_fit_rejects_bad_rows():
    with pytest.raises(ValueError, match="cannot meet itself"):
        ag.bradley_terry_fit([0], [0], [1.0], 2)
    with pytest.raises(ValueError, match="position"):
        ag.bradley_terry_fit([0, 1], [1, 0], [1.0, 1.0], 2, position=[2, 0])
    with pytest.raises(ValueError, match="n_items"):
        ag.bradley_terry_fit([0, 1], [1, 5], [1.0, 0.0], 2)


def test_bradley_terry_pairs_with_prior_zero_is_the_exact_fit():
    home, away, share, games = _baseball()
    exact = ag.bradley_terry_pairs(home, away, share * games, games, 7, prior_games=0)
    np.testing.assert_allclose(
        exact, ag.bradley_terry_fit(home, away, share, 7, weight=games).theta
    )
    with pytest.raises(ag.NoFiniteMLE):
        ag.bradley_terry_pairs([0], [1], [10.0], [10.0], 2, prior_games=0)
