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


def _w_by_definition(scores: list[list[float]], corrected: bool) -> float:
    """Kendall (1948) / Legendre (2005), with explicit loops: rank each rater's scores (ties
    share the mean rank), S = sum of squared deviations of the rank sums, T = sum over
    raters and tie groups of t^3 - t."""
    m, n = len(scores), len(scores[0])
    ranks, t = [], 0.0
    for row in scores:
        ranked = []
        for v in row:
            below = sum(1 for u in row if u < v)
            same = sum(1 for u in row if u == v)
            ranked.append(below + (same + 1) / 2)
        ranks.append(ranked)
        for v in set(row):
            size = row.count(v)
            t += size**3 - size
    totals = [sum(r[i] for r in ranks) for i in range(n)]
    mean = sum(totals) / n
    s = sum((x - mean) ** 2 for x in totals)
    return 12 * s / (m**2 * (n**3 - n) - (m * t if corrected else 0))


ANXIETY = [
    [3, 3, 3, 4, 5, 5, 2, 3, 5, 2, 2, 6, 1, 5, 2, 2, 1, 2, 4, 3],
    [3, 6, 4, 6, 2, 4, 2, 4, 3, 3, 2, 3, 3, 3, 2, 2, 1, 3, 3, 4],
    [2, 1, 4, 4, 3, 2, 1, 6, 1, 1, 1, 2, 3, 3, 1, 1, 3, 3, 2, 2],
]


def test_kendall_w_test_both_forms_on_irr_anxiety():
    # R package irr, `kendall(anxiety, TRUE)`: Wt = 0.54, Chisq(19) = 30.8, p = 0.0429.
    test = ag.kendall_w_test(ag.tied_ranks(ANXIETY))
    assert (test.raters, test.objects, test.df) == (3, 20, 19)
    assert test.w_corrected == pytest.approx(0.54, abs=0.005)
    assert test.chi2_corrected == pytest.approx(30.8, abs=0.05)
    assert test.p_corrected == pytest.approx(0.0429, abs=5e-5)
    # Uncorrected (irr's default `kendall(anxiety)`): by the definition, and its chi2 / p.
    assert test.w == pytest.approx(_w_by_definition(ANXIETY, corrected=False))
    assert test.w_corrected == pytest.approx(_w_by_definition(ANXIETY, corrected=True))
    assert test.w < test.w_corrected  # ties pull the uncorrected W down
    assert test.chi2 == pytest.approx(3 * 19 * test.w)
    assert test.p == pytest.approx(stats.chi2.sf(3 * 19 * test.w, 19))


def test_kendall_w_test_by_hand_and_friedman():
    # The tied example of test_kendall_w_by_hand: S = 40, T = 12, m = 3, n = 4.
    # Uncorrected W = 480 / 540 = 8/9; corrected 20/21; chi2 = 3 * 3 * W.
    test = ag.kendall_w_test([[1, 2, 3, 4], [1.5, 1.5, 3, 4], [1, 2, 3.5, 3.5]])
    assert (test.w, test.w_corrected) == pytest.approx((8 / 9, 20 / 21))
    assert (test.chi2, test.chi2_corrected) == pytest.approx((8.0, 60 / 7))
    scores = np.array([[1, 2, 3, 4], [1, 1, 3, 4], [1, 2, 3, 3]])
    friedman = stats.friedmanchisquare(*scores.T)  # tie-corrected statistic and p
    assert (test.chi2_corrected, test.p_corrected) == pytest.approx(
        (friedman.statistic, friedman.pvalue)
    )


def test_kendall_w_units_pools_each_units_test():
    rng = np.random.default_rng(4)
    unit = np.repeat([0, 1, 2, 3], [3, 4, 1, 5])
    raw = rng.integers(1, 4, (unit.size, 4)).astype(float)
    raw[unit == 1, 3] = nan
    ranks = ag.tied_ranks(raw)
    got = ag.kendall_w_units(unit, ranks, 5)
    tests = [ag.kendall_w_test(ranks[unit == u][:, : (3 if u == 1 else 4)]) for u in (0, 1, 3)]
    assert got.units == 3
    assert got.mean_w == pytest.approx(np.mean([t.w for t in tests]))
    assert got.mean_w_corrected == pytest.approx(np.mean([t.w_corrected for t in tests]))
    assert got.chi2 == pytest.approx(sum(t.chi2 for t in tests))
    assert got.chi2_corrected == pytest.approx(sum(t.chi2_corrected for t in tests))
    assert got.df == sum(t.df for t in tests) == 3 + 2 + 3
    assert got.p_corrected == pytest.approx(stats.chi2.sf(got.chi2_corrected, got.df))
    uncorrected = ag.kendall_w_per_unit(unit, ranks, 5, corrected=False)
    assert uncorrected[0] == pytest.approx(tests[0].w) and np.isnan(uncorrected[4])
    assert ag.kendall_w_units(unit[:0], ranks[:0], 2).units == 0
