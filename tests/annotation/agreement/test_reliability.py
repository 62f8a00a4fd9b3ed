"""annotation.agreement.reliability against published worked examples and hand computations.

Every expected number below is either quoted from a publication (source named) or
worked out by hand in the comments; none was produced by the code under test.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from annotation import agreement as ag
from tests.annotation.agreement.published import KRIPPENDORFF_2011, nan

# Wikipedia, "Fleiss' kappa", worked example: 10 subjects x 5 categories, 14 raters.
FLEISS_WIKIPEDIA = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)

# Gwet (2014), Handbook of Inter-Rater Reliability, 4th ed.: 2 abstractors x 100
# pregnancies, 3 categories (the `cont3x3abstractors` table of Gwet's irrCAC package).
GWET_3X3 = np.array([[13, 0, 0], [0, 20, 7], [0, 4, 56]])
# Gwet's irrCAC `cont4x4diagnosis`: 223 patients, clinical vs research diagnosis.
GWET_4X4 = np.array([[40, 4, 4, 17], [6, 25, 2, 13], [4, 1, 21, 12], [15, 5, 9, 45]])


def _table_to_counts(table: np.ndarray) -> np.ndarray:
    """k x k two-rater table -> one count row per unit (for AC1 / Fleiss)."""
    k = table.shape[0]
    rows = [np.eye(k)[i] + np.eye(k)[j] for i, j in itertools.product(range(k), repeat=2)]
    return np.repeat(np.array(rows), table.ravel(), axis=0)


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


# --- Fleiss, Cohen, AC1, percent agreement --------------------------------------------


def test_fleiss_wikipedia_example():
    result = ag.fleiss_kappa(FLEISS_WIKIPEDIA)
    assert result.kappa == pytest.approx(0.210, abs=5e-4)
    assert result.p_bar == pytest.approx(0.378, abs=5e-4)
    assert result.p_e_bar == pytest.approx(0.213, abs=5e-4)
    assert result.proportions == pytest.approx([0.143, 0.200, 0.279, 0.150, 0.229], abs=5e-4)


def test_fleiss_per_category_by_hand():
    # Category 1 column: 0,0,0,0,2,7,3,2,6,0 (20 of 140 assignments, p_1 = 1/7).
    # sum n_i1 (14 - n_i1) = 2*12 + 7*7 + 3*11 + 2*12 + 6*8 = 178;
    # N n (n - 1) p q = 10 * 14 * 13 * (1/7) * (6/7) = 222.857...; kappa_1 = 1 - 178/222.857.
    result = ag.fleiss_kappa(FLEISS_WIKIPEDIA)
    assert result.per_category[0] == pytest.approx(1 - 178 / (1820 * 6 / 49))
    # Fleiss (1971): overall kappa is the p_j q_j-weighted mean of the kappa_j.
    pq = result.proportions * (1 - result.proportions)
    assert np.sum(pq * result.per_category) / pq.sum() == pytest.approx(result.kappa)


def test_fleiss_rejects_unequal_raters():
    with pytest.raises(ValueError):
        ag.fleiss_kappa([[2, 1], [1, 1]])


def test_percent_agreement_is_fleiss_p_bar_for_equal_raters():
    assert ag.percent_agreement(FLEISS_WIKIPEDIA) == pytest.approx(0.378, abs=5e-4)


def test_cohen_wikipedia_example():
    # Wikipedia, "Cohen's kappa": 50 proposals, yes/yes 20, yes/no 5, no/yes 10, no/no 15.
    assert ag.cohen_kappa_table([[20, 5], [10, 15]]) == pytest.approx(0.40)
    a = [1] * 20 + [1] * 5 + [0] * 10 + [0] * 15
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    assert ag.cohen_kappa(a + [nan], b + [1]) == pytest.approx(0.40)  # nan pair dropped


@pytest.mark.parametrize(
    ("table", "weights", "published"),
    [
        (GWET_3X3, None, 0.796),
        (GWET_3X3, "linear", 0.843),
        (GWET_3X3, "quadratic", 0.892),
        (GWET_4X4, None, 0.432),
        (GWET_4X4, "linear", 0.407),
        (GWET_4X4, "quadratic", 0.383),
    ],
)
def test_cohen_gwet_handbook_tables(table, weights, published):
    # Values as reported by Gwet's irrCAC package (kappa2.table) for these tables.
    assert ag.cohen_kappa_table(table, weights) == pytest.approx(published, abs=5e-4)


def test_weighted_cohen_by_hand():
    # f = [[1,1,0],[0,1,1],[0,0,1]], N = 5, rows (2,2,1), columns (1,2,2),
    # expected counts e_ij = r_i c_j / 5. Off-diagonal observed: (0,1) and (1,2).
    # unweighted: 1 - 2 / (5 - (2*1 + 2*2 + 1*2)/5) = 1 - 2/3.4 = 7/17
    # linear |i-j|: sum w e = .8 + 2*.8 + .4 + .8 + 2*.2 + .4 = 4.4 -> 1 - 2/4.4 = 6/11
    # quadratic (i-j)^2: .8 + 4*.8 + .4 + .8 + 4*.2 + .4 = 6.4 -> 1 - 2/6.4 = 11/16
    table = [[1, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert ag.cohen_kappa_table(table) == pytest.approx(7 / 17)
    assert ag.cohen_kappa_table(table, "linear") == pytest.approx(6 / 11)
    assert ag.cohen_kappa_table(table, "quadratic") == pytest.approx(11 / 16)
    a, b = [1, 1, 2, 2, 3], [1, 2, 2, 3, 3]
    assert ag.cohen_kappa(a, b, "linear") == pytest.approx(6 / 11)
    # Declaring an unused top category moves no one: positions 0..2 stay the same.
    assert ag.cohen_kappa(a, b, "linear", categories=[1, 2, 3, 4]) == pytest.approx(6 / 11)


def test_gwet_ac1_handbook_raw_ratings():
    # Gwet (2014) Handbook, 4th ed., p. 120 (irrCAC `cac.raw4raters`): the Krippendorff
    # data with unit 12's single rating given by rater 3. Published AC1 = 0.775,
    # p_a = 0.818 (p_e = 0.190).
    data = KRIPPENDORFF_2011.copy()
    data[1, 11], data[2, 11] = nan, 3
    _, counts = ag.count_matrix(data)
    assert ag.gwet_ac1(counts) == pytest.approx(0.775, abs=5e-4)
    assert ag.percent_agreement(counts) == pytest.approx(0.818, abs=5e-4)


def test_gwet_ac1_two_raters():
    # Gwet's Handbook 3x3 abstractors table: AC1 = 0.849 (irrCAC gwet.ac1.table).
    assert ag.gwet_ac1(_table_to_counts(GWET_3X3)) == pytest.approx(0.849, abs=5e-4)
    # Kappa paradox, by hand: 125 units, yes/yes 118, yes/no 5, no/yes 2, no/no 0.
    # p_a = 118/125 = .944; pi_yes = (123 + 120)/250 = .972; p_e = 2 * .972 * .028
    # = .054432; AC1 = (.944 - .054432)/(1 - .054432) = .94077; while Cohen's
    # p_e = (123*120 + 2*5)/125^2 = .94528 gives kappa = -.00128/.05472 = -.02339.
    table = np.array([[118, 5], [2, 0]])
    assert ag.gwet_ac1(_table_to_counts(table)) == pytest.approx(0.889568 / 0.945568)
    assert ag.cohen_kappa_table(table) == pytest.approx(-0.00128 / 0.05472)


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
