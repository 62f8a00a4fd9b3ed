"""annotation.agreement.divergence against scipy and exact enumeration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from annotation import agreement as ag


def test_jensen_shannon_against_scipy_and_bounds():
    p, q = np.array([10, 5, 0, 1]), np.array([2, 2, 6, 0])
    expected = distance.jensenshannon(p / p.sum(), q / q.sum(), base=2) ** 2
    assert float(ag.jensen_shannon(p, q)) == pytest.approx(expected)
    assert float(ag.jensen_shannon([1, 0], [0, 3])) == pytest.approx(1.0)  # disjoint
    assert float(ag.jensen_shannon([2, 2], [5, 5])) == pytest.approx(0.0)
    rows = ag.jensen_shannon([p, [1, 0, 0, 0]], [q, [0, 0, 0, 0]])
    assert rows[0] == pytest.approx(expected) and np.isnan(rows[1])


def test_homogeneity_chi2_matches_scipy():
    a, b = np.array([30, 12, 8, 50]), np.array([20, 25, 10, 30])
    result = ag.homogeneity_test(a, b, seed=0)
    chi2, p, dof, _ = stats.chi2_contingency(np.vstack([a, b]), correction=False)
    assert result.method == "chi2" and result.dof == dof
    assert result.statistic == pytest.approx(chi2) and result.p_value == pytest.approx(p)


def test_homogeneity_permutation_matches_exact_enumeration():
    # Small 2 x 2 table: exact conditional p = sum of hypergeometric probabilities of
    # the tables (margins fixed) whose chi-square is at least the observed one.
    a, b = np.array([5, 1]), np.array([1, 4])
    result = ag.homogeneity_test(a, b, n_permutations=20_000, seed=1)
    col = a + b
    n_a, total = a.sum(), col.sum()

    def chi2_of(x: int) -> float:
        obs = np.array([[x, n_a - x], [col[0] - x, col[1] - n_a + x]], dtype=float)
        exp = np.outer(obs.sum(1), obs.sum(0)) / total
        return float(np.sum((obs - exp) ** 2 / exp))

    support = range(max(0, n_a - col[1]), min(n_a, col[0]) + 1)
    exact = sum(
        stats.hypergeom.pmf(x, total, col[0], n_a)
        for x in support
        if chi2_of(x) >= chi2_of(a[0]) - 1e-12
    )
    assert result.method == "permutation"
    assert result.p_value == pytest.approx(exact, abs=0.01)


def test_homogeneity_degenerate_cases():
    assert ag.homogeneity_test([3, 0], [0, 0], seed=0).method == "undefined"
    same = ag.homogeneity_test([4, 0], [7, 0], seed=0)
    assert same.p_value == 1.0 and same.jsd == 0.0
    with pytest.raises(ValueError):
        ag.homogeneity_test([1.5, 2], [1, 2], seed=0)


def test_benjamini_hochberg_matches_scipy_and_counts_untested():
    p = np.array([0.001, 0.04, 0.03, 0.2, 0.01])
    np.testing.assert_allclose(ag.benjamini_hochberg(p), stats.false_discovery_control(p))
    padded = np.r_[p, np.ones(5)]
    np.testing.assert_allclose(
        ag.benjamini_hochberg(p, 10), stats.false_discovery_control(padded)[:5]
    )
