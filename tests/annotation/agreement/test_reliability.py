"""annotation.agreement.reliability (count tables, alpha) against published worked examples and
hand computations.

Every expected number below is either quoted from a publication (source named) or
worked out by hand in the comments; none was produced by the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest

from annotation import agreement as ag
from tests.annotation.agreement.published import KRIPPENDORFF_2011, nan

# --- Krippendorff's alpha -------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_alpha_krippendorff_2011_worked_example(level, published):
    assert ag.krippendorff_alpha(KRIPPENDORFF_2011, level) == pytest.approx(published, abs=5e-4)


def test_alpha_nominal_krippendorff_2011_hand_arithmetic():
    # Coincidences by hand, unit by unit (weight 1/(m_u - 1) per ordered pair):
    # o_11 = 3 (u1) + 2 (u8) + 2 (u11) = 7; o_22 = 2 (u2) + 4 (u5) + 4 (u9) = 10;
    # o_33 = 4 + 4 (u3, u4) = 8; o_44 = 4 (u7); o_55 = 3 (u10);
    # o_12 = 1/3 (u6) + 1 (u8); o_23 = 1 (u2) + 1/3 (u6); o_13 = o_14 = o_24 = o_34 = 1/3.
    # n_c = 9, 13, 10, 5, 3; n = 40. Nominal alpha = 1 - (n - 1) * (off-diagonal mass)
    # / (n^2 - sum n_c^2) = 1 - 39 * 8 / (1600 - 384) = 0.7434 (the paper's 0.743).
    cats, counts = ag.count_matrix(KRIPPENDORFF_2011)
    o = ag.coincidence_matrix(counts)
    assert cats.tolist() == [1, 2, 3, 4, 5]
    assert np.diag(o) == pytest.approx([7, 10, 8, 4, 3])
    assert [o[0, 1], o[1, 2], o[0, 2], o[2, 3]] == pytest.approx([4 / 3, 4 / 3, 1 / 3, 1 / 3])
    assert o.sum(axis=1) == pytest.approx([9, 13, 10, 5, 3])
    assert ag.krippendorff_alpha(KRIPPENDORFF_2011) == pytest.approx(1 - 39 * 8 / 1216)


def _alpha_by_pairs(data: np.ndarray, level: str) -> float:
    """Krippendorff's definition, pair by pair, with explicit loops (independent path)."""
    units = [col[~np.isnan(col)] for col in data.T]
    units = [u for u in units if u.size >= 2]
    values = np.concatenate(units)
    cats = np.unique(values)
    n_c = {c: np.sum(values == c) for c in cats}

    def d2(c: float, k: float) -> float:
        if level == "nominal":
            return float(c != k)
        if level == "interval":
            return (c - k) ** 2
        if level == "ratio":
            return ((c - k) / (c + k)) ** 2 if c + k else 0.0
        lo, hi = min(c, k), max(c, k)
        between = sum(n_c[g] for g in cats if lo <= g <= hi)
        return (between - (n_c[lo] + n_c[hi]) / 2) ** 2

    n = values.size
    observed = sum(
        d2(u[i], u[j]) / (u.size - 1)
        for u in units
        for i in range(u.size)
        for j in range(u.size)
        if i != j
    )
    expected = sum(d2(c, k) * n_c[c] * n_c[k] for c in cats for k in cats)
    return 1 - (n - 1) * observed / expected


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_matches_pairwise_definition_on_random_data(level):
    rng = np.random.default_rng(7)
    data = rng.integers(1, 6, size=(4, 25)).astype(float)
    data[rng.random(data.shape) < 0.3] = nan
    assert ag.krippendorff_alpha(data, level) == pytest.approx(_alpha_by_pairs(data, level))


def test_alpha_ignores_units_with_one_value_and_long_form_agrees():
    extra = np.hstack([KRIPPENDORFF_2011, [[nan], [nan], [2.0], [nan]]])
    assert ag.krippendorff_alpha(extra) == pytest.approx(ag.krippendorff_alpha(KRIPPENDORFF_2011))
    labeler, unit = np.nonzero(~np.isnan(KRIPPENDORFF_2011))
    cats, counts = ag.count_judgments(unit, KRIPPENDORFF_2011[labeler, unit])
    assert ag.alpha_from_counts(counts, cats, "ordinal") == pytest.approx(0.815, abs=5e-4)


def test_alpha_edge_cases():
    assert ag.krippendorff_alpha([[1, 2, 3], [1, 2, 3]], "interval") == 1.0
    assert np.isnan(ag.krippendorff_alpha([[2, 2, 2], [2, 2, 2]]))  # no variation
    with pytest.raises(ValueError):
        ag.krippendorff_alpha([[1, 2, 3], [1, 2, 3]], "cardinal")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ag.krippendorff_alpha([[1, -2], [1, 2]], "ratio")


def test_alpha_on_a_million_judgments_is_right():
    # Each labeler copies the unit's true category with probability rho, else draws
    # uniformly from K. Two values of a unit agree with probability rho^2 + (1 -
    # rho^2)/K, so D_o = (1 - rho^2)(1 - 1/K), D_e = 1 - 1/K and alpha = rho^2.
    rng = np.random.default_rng(0)
    units, labelers, k, rho = 200_000, 5, 8, 0.7
    truth = rng.integers(1, k + 1, units)
    copies = rng.random((labelers, units)) < rho
    data = np.where(copies, truth, rng.integers(1, k + 1, (labelers, units))).astype(float)
    alpha = ag.krippendorff_alpha(data, "nominal")  # its time: bench/bench_agreement.py
    assert alpha == pytest.approx(rho**2, abs=0.005)


def test_alpha_per_criterion():
    ratings = np.stack([KRIPPENDORFF_2011, KRIPPENDORFF_2011[::-1] * 0 + 1], axis=2)
    result = ag.alpha_per_criterion(ratings, "interval")
    assert result[0] == pytest.approx(0.849, abs=5e-4) and np.isnan(result[1])


# --- alpha from a coincidence matrix, and from continuous values ------------------------


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_from_coincidence_matches_alpha_from_counts(level):
    cats, counts = ag.count_matrix(KRIPPENDORFF_2011)
    o = ag.coincidence_matrix(counts)
    assert ag.alpha_from_coincidence(o, cats, level) == pytest.approx(
        ag.alpha_from_counts(counts, cats, level)
    )


def test_interval_alpha_of_continuous_values_matches_the_count_table():
    assert ag.interval_alpha(
        np.broadcast_to(np.arange(12), KRIPPENDORFF_2011.shape).ravel(), KRIPPENDORFF_2011.ravel()
    ) == pytest.approx(ag.krippendorff_alpha(KRIPPENDORFF_2011, "interval"))
    rng = np.random.default_rng(1)
    data = rng.normal(0, 1, (3, 50)) + rng.normal(0, 2, 50)
    data[rng.random(data.shape) < 0.3] = nan
    unit = np.broadcast_to(np.arange(50), data.shape).ravel()
    assert ag.interval_alpha(unit, data.ravel()) == pytest.approx(
        ag.krippendorff_alpha(data, "interval")
    )


def test_alpha_from_coincidence_keeps_the_ratio_check():
    cats, counts = ag.count_matrix([[-1, 2], [-1, 2]])
    with pytest.raises(ValueError):
        ag.alpha_from_coincidence(ag.coincidence_matrix(counts), cats, "ratio")
