"""annotation.agreement.ranks: Kendall's W and tau-b against published output, scipy and hand
computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from annotation import agreement as ag

nan = np.nan


def test_kendall_w_irr_anxiety_example_with_ties():
    # R package irr, `kendall(anxiety, TRUE)` documented output: Wt = 0.54,
    # Chisq(19) = 30.8, p = 0.0429 (3 raters scoring 20 subjects on 1..6, many ties).
    rater1 = [3, 3, 3, 4, 5, 5, 2, 3, 5, 2, 2, 6, 1, 5, 2, 2, 1, 2, 4, 3]
    rater2 = [3, 6, 4, 6, 2, 4, 2, 4, 3, 3, 2, 3, 3, 3, 2, 2, 1, 3, 3, 4]
    rater3 = [2, 1, 4, 4, 3, 2, 1, 6, 1, 1, 1, 2, 3, 3, 1, 1, 3, 3, 2, 2]
    w = ag.kendall_w(ag.tied_ranks([rater1, rater2, rater3]))
    assert w == pytest.approx(0.54, abs=0.005)
    assert 3 * 19 * w == pytest.approx(30.8, abs=0.05)
    assert stats.chi2.sf(3 * 19 * w, 19) == pytest.approx(0.0429, abs=5e-5)


def test_kendall_w_by_hand():
    # No ties: rank sums 4, 6, 8, 12 (mean 7.5), S = 12.25 + 2.25 + .25 + 20.25 = 35,
    # W = 12 * 35 / (3^2 * (4^3 - 4)) = 420 / 540 = 7/9.
    assert ag.kendall_w([[1, 2, 3, 4], [2, 1, 3, 4], [1, 3, 2, 4]]) == pytest.approx(7 / 9)
    # Ties: rank sums 3.5, 5.5, 9.5, 11.5, S = 16 + 4 + 4 + 16 = 40; two tie pairs,
    # T = 2 * (2^3 - 2) = 12; W = 480 / (9 * 60 - 3 * 12) = 480 / 504 = 20/21.
    tied = [[1, 2, 3, 4], [1.5, 1.5, 3, 4], [1, 2, 3.5, 3.5]]
    assert ag.kendall_w(tied) == pytest.approx(20 / 21)
    with pytest.raises(ValueError):
        ag.kendall_w([[0, 1, 2], [0, 1, 2]])  # 0-based, not ranks


def test_kendall_w_is_friedman_statistic_over_m_n_minus_1():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 4, size=(6, 9))  # 6 rankers, 9 objects, many ties
    w = ag.kendall_w(ag.tied_ranks(scores))
    friedman = stats.friedmanchisquare(*scores.T).statistic  # tie-corrected
    assert 6 * (9 - 1) * w == pytest.approx(friedman)


def test_kendall_tau_b_matches_scipy_with_ties():
    rng = np.random.default_rng(11)
    for _ in range(5):
        x, y = rng.integers(0, 5, 60), rng.integers(0, 4, 60)
        assert ag.kendall_tau_b(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)
    assert np.isnan(ag.kendall_tau_b([1, 1, 1], [1, 2, 3]))


def test_kendall_w_per_unit_matches_kendall_w():
    rng = np.random.default_rng(2)
    unit = np.repeat([0, 1, 2], [3, 4, 1])
    raw = rng.integers(1, 4, (unit.size, 4)).astype(float)  # ties on purpose
    raw[unit == 1, 3] = nan  # unit 1 ranks three responses only
    ranks = ag.tied_ranks(raw)
    got = ag.kendall_w_per_unit(unit, ranks, 4)
    assert got[0] == pytest.approx(ag.kendall_w(ranks[unit == 0]))
    assert got[1] == pytest.approx(ag.kendall_w(ranks[unit == 1][:, :3]))
    assert np.isnan(got[2]) and np.isnan(got[3])  # one ranking; no rankings
