"""annotation.reports.stats against annotation.agreement and scipy on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

from annotation import agreement as ag
from annotation.reports import stats as rs

nan = np.nan
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_from_coincidence_matches_agreement(level):
    cats, counts = ag.count_matrix(KRIPPENDORFF_2011)
    o = ag.coincidence_matrix(counts)
    assert rs.alpha_from_coincidence(o, cats, level) == pytest.approx(
        ag.alpha_from_counts(counts, cats, level)
    )


@pytest.mark.parametrize("level", ["nominal", "interval"])
def test_alpha_bootstrap_matches_resampling_units(level):
    rng = np.random.default_rng(3)
    truth = rng.integers(1, 6, 300)
    data = np.clip(truth[None, :] + rng.integers(-1, 2, (4, 300)), 1, 5).astype(float)
    data[rng.random(data.shape) < 0.2] = nan
    cats, counts = ag.count_matrix(data)
    fast = rs.alpha_bootstrap(counts, cats, level, 400, 0.95, np.random.default_rng(0))
    slow = ag.bootstrap_ci(
        lambda c: ag.alpha_from_counts(c, cats, level), counts[counts.sum(1) >= 2], 400, seed=1
    )
    assert fast.value == pytest.approx(ag.alpha_from_counts(counts, cats, level))
    assert fast.low < fast.value < fast.high
    assert fast.low == pytest.approx(float(slow.low), abs=0.03)
    assert fast.high == pytest.approx(float(slow.high), abs=0.03)


def test_alpha_bootstrap_without_pairable_units():
    est = rs.alpha_bootstrap(
        np.array([[1.0, 0.0], [0.0, 1.0]]), [0, 1], "nominal", 10, 0.95, np.random.default_rng(0)
    )
    assert est.units == 0 and np.isnan(est.value)


def test_bradley_terry_pairs_matches_agreement_on_expanded_rows():
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
    got = rs.bradley_terry_pairs(keys // 5, keys % 5, wins, games, 5)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_bradley_terry_pairs_keeps_an_unbeaten_item_finite():
    got = rs.bradley_terry_pairs([0], [1], [10.0], [10.0], 2)
    assert np.all(np.isfinite(got)) and got[0] > got[1]


def test_kendall_w_per_unit_matches_agreement():
    rng = np.random.default_rng(2)
    unit = np.repeat([0, 1, 2], [3, 4, 1])
    raw = rng.integers(1, 4, (unit.size, 4)).astype(float)  # ties on purpose
    raw[unit == 1, 3] = nan  # unit 1 ranks three responses only
    ranks = ag.tied_ranks(raw)
    got = rs.kendall_w_per_unit(unit, ranks, 4)
    assert got[0] == pytest.approx(ag.kendall_w(ranks[unit == 0]))
    assert got[1] == pytest.approx(ag.kendall_w(ranks[unit == 1][:, :3]))
    assert np.isnan(got[2]) and np.isnan(got[3])  # one ranking; no rankings


def test_logistic_fit_matches_direct_maximisation():
    rng = np.random.default_rng(4)
    x = rng.normal(0, 2, 500)
    y = (rng.random(500) < 1 / (1 + np.exp(-(0.3 + 0.8 * x)))).astype(float)
    fit = rs.logistic_fit(x, y)

    def nll(beta: np.ndarray) -> float:
        z = beta[0] + beta[1] * x
        return float(np.sum(np.logaddexp(0, z) - y * z))

    best = optimize.minimize(nll, [0.0, 0.0], method="BFGS")
    assert fit.converged
    assert [fit.intercept, fit.slope] == pytest.approx(best.x, abs=1e-4)
    assert fit.slope_se == pytest.approx(np.sqrt(best.hess_inv[1, 1]), rel=0.1)


def test_benjamini_hochberg_matches_scipy_and_counts_untested():
    p = np.array([0.001, 0.04, 0.03, 0.2, 0.01])
    np.testing.assert_allclose(rs.benjamini_hochberg(p), stats.false_discovery_control(p))
    padded = np.r_[p, np.ones(5)]
    np.testing.assert_allclose(
        rs.benjamini_hochberg(p, 10), stats.false_discovery_control(padded)[:5]
    )


def test_interval_alpha_of_continuous_values_matches_agreement():
    assert rs.interval_alpha(
        np.broadcast_to(np.arange(12), KRIPPENDORFF_2011.shape).ravel(), KRIPPENDORFF_2011.ravel()
    ) == pytest.approx(ag.krippendorff_alpha(KRIPPENDORFF_2011, "interval"))
    rng = np.random.default_rng(1)
    data = rng.normal(0, 1, (3, 50)) + rng.normal(0, 2, 50)
    data[rng.random(data.shape) < 0.3] = nan
    unit = np.broadcast_to(np.arange(50), data.shape).ravel()
    assert rs.interval_alpha(unit, data.ravel()) == pytest.approx(
        ag.krippendorff_alpha(data, "interval")
    )


def test_logistic_fit_pools_equal_x_without_changing_the_fit():
    x = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 2.0, 3.0])
    y = np.array([0, 1, 0, 1, 1, 1, 0.5, 1])
    w = np.array([1, 2, 1, 1, 3, 1, 2, 1.0])
    pooled = rs.logistic_fit(x, y, w)
    z = lambda b: b[0] + b[1] * x  # noqa: E731
    best = optimize.minimize(
        lambda b: float(np.sum(w * (np.logaddexp(0, z(b)) - y * z(b)))), [0.0, 0.0], method="BFGS"
    )
    assert [pooled.intercept, pooled.slope] == pytest.approx(best.x, abs=1e-4)
