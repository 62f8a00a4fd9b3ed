"""annotation.agreement.kappas against published output (R's irrCAC documentation, Gwet's
Handbook, Wikipedia's worked examples) and against straightforward loop implementations.

Every expected number below is either quoted from a publication (source named) or
computed in the test by an independent path (loops over rater pairs, written from the
definitions); none was produced by the code under test.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from annotation import agreement as ag
from tests.annotation.agreement.published import (
    CAC_RAW4RATERS,
    DISTRIB_6RATERS,
    KRIPPENDORFF_2011,
    nan,
)

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


# --- Fleiss, Cohen, AC1, percent agreement (classic forms) ----------------------------


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
    assert np.array_equal(data, CAC_RAW4RATERS, equal_nan=True)
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


# --- weights ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "off_by_one", "off_by_two"),
    [
        ("identity", 0.0, 0.0),
        ("linear", 0.5, 0.0),
        ("ordinal", 2 / 3, 0.0),
        ("quadratic", 0.75, 0.0),
        ("bipolar", 2 / 3, 0.0),
    ],
)
def test_weights_match_irrcac_vignette(scheme, off_by_one, off_by_two):
    # irrCAC vignette "weighting" prints identity/linear/ordinal/quadratic/bipolar.weights(1:3).
    w = ag.agreement_weights([1, 2, 3], scheme)
    expected = np.array([[1, off_by_one, off_by_two], [off_by_one, 1, off_by_one],
                         [off_by_two, off_by_one, 1]])  # fmt: skip
    np.testing.assert_allclose(w, expected, atol=1e-7)


def _weights_by_loops(x: list[float], scheme: str) -> np.ndarray:
    """Gwet (2014) ch. 3 weights, element by element (as irrCAC's weights.gen.r loops)."""
    q, lo, hi = len(x), min(x), max(x)
    w = np.zeros((q, q))
    for k in range(q):
        for m in range(q):
            if scheme == "linear":
                w[k, m] = 1 - abs(x[k] - x[m]) / (hi - lo)
            elif scheme == "quadratic":
                w[k, m] = 1 - (x[k] - x[m]) ** 2 / (hi - lo) ** 2
            elif scheme == "ordinal":
                gap = abs(k - m) + 1
                w[k, m] = gap * (gap - 1) / 2
            elif scheme == "bipolar":
                s = x[k] + x[m]
                w[k, m] = (x[k] - x[m]) ** 2 / ((s - 2 * lo) * (2 * hi - s)) if k != m else 0.0
            else:
                w[k, m] = float(k == m)
    if scheme in ("ordinal", "bipolar"):
        w = 1 - w / w.max()
    return w


@pytest.mark.parametrize("scheme", ag.WEIGHT_SCHEMES)
def test_weights_on_unequal_values_match_loops(scheme):
    values = [1.0, 2.0, 4.5, 5.0, 8.0]  # uneven spacing: values matter, except for ordinal
    np.testing.assert_allclose(
        ag.agreement_weights(values, scheme), _weights_by_loops(values, scheme)
    )


def test_weights_reject_bad_input():
    with pytest.raises(ValueError):
        ag.agreement_weights([1, 3, 2], "linear")
    with pytest.raises(ValueError):
        ag.agreement_weights([1, 2, 3], "cubic")  # type: ignore[arg-type]


# --- AC2 and Fleiss in the missing-data form -----------------------------------------------


def _raw_by_loops(raters: np.ndarray, scheme: str) -> tuple[float, float, float]:
    """(p_o, AC2 p_e, Fleiss p_e) of a raters x units matrix, from the definitions (Gwet
    2014, ch. 2-3): ordered pairs of distinct raters per unit, weighted; rater shares per
    unit averaged over rated units."""
    cats = sorted({v for v in raters.ravel() if not np.isnan(v)})
    w = _weights_by_loops(cats, scheme)
    q = len(cats)
    per_unit_agreement, shares = [], []
    for unit in raters.T:
        given = [cats.index(v) for v in unit if not np.isnan(v)]
        if given:
            shares.append([given.count(k) / len(given) for k in range(q)])
        if len(given) >= 2:
            pairs = [w[a, b] for i, a in enumerate(given) for j, b in enumerate(given) if i != j]
            per_unit_agreement.append(sum(pairs) / len(pairs))
    pi = np.mean(shares, axis=0)
    p_o = float(np.mean(per_unit_agreement))
    ac2_pe = w.sum() / (q * (q - 1)) * sum(p * (1 - p) for p in pi)
    fleiss_pe = sum(w[k, m] * pi[k] * pi[m] for k in range(q) for m in range(q))
    return p_o, float(ac2_pe), float(fleiss_pe)


# irrCAC documentation (vignettes "overview" and "weighting") on cac.raw4raters:
#   gwet.ac1.raw:                    pa 0.8181818  pe 0.1903212  AC1 0.77544
#   gwet.ac1.raw, quadratic:         pa 0.9753788  pe 0.7137044  AC2 0.914
#   fleiss.kappa.raw:                pa 0.8181818  pe 0.2387153  kappa 0.76117
#   fleiss.kappa.raw, quadratic:     pa 0.9753788  pe 0.8177083  kappa 0.86494
# (0.76282 there is Conger's kappa, not Fleiss'.)
@pytest.mark.parametrize(
    ("scheme", "p_o", "ac2_pe", "ac2", "fleiss_pe", "fleiss"),
    [
        ("identity", 0.8181818, 0.1903212, 0.77544, 0.2387153, 0.76117),
        ("quadratic", 0.9753788, 0.7137044, 0.914, 0.8177083, 0.86494),
    ],
)
def test_ac2_and_fleiss_missing_irrcac_cac_raw4raters(scheme, p_o, ac2_pe, ac2, fleiss_pe, fleiss):
    cats, counts = ag.count_matrix(CAC_RAW4RATERS)
    got = ag.gwet_ac2(counts, cats, scheme)
    assert (got.p_o, got.p_e, got.value) == pytest.approx((p_o, ac2_pe, ac2), abs=5e-6)
    assert got.weights == scheme
    kappa = ag.fleiss_kappa_missing(counts, cats, scheme)
    assert (kappa.p_o, kappa.p_e, kappa.value) == pytest.approx((p_o, fleiss_pe, fleiss), abs=5e-6)


@pytest.mark.parametrize("scheme", ag.WEIGHT_SCHEMES)
def test_ac2_and_fleiss_missing_match_loops_for_every_weight(scheme):
    rng = np.random.default_rng(5)
    raters = rng.integers(1, 6, size=(5, 30)).astype(float)
    raters[rng.random(raters.shape) < 0.35] = nan  # units with 0..5 raters
    cats, counts = ag.count_matrix(raters)
    p_o, ac2_pe, fleiss_pe = _raw_by_loops(raters, scheme)
    ac2 = ag.gwet_ac2(counts, cats, scheme)
    assert (ac2.p_o, ac2.p_e) == pytest.approx((p_o, ac2_pe))
    assert ac2.value == pytest.approx((p_o - ac2_pe) / (1 - ac2_pe))
    kappa = ag.fleiss_kappa_missing(counts, cats, scheme)
    assert (kappa.p_o, kappa.p_e) == pytest.approx((p_o, fleiss_pe))
    # The same raw data on the cac.raw4raters published ordinal / linear / bipolar runs:
    p_o, ac2_pe, _ = _raw_by_loops(CAC_RAW4RATERS, scheme)
    cats, counts = ag.count_matrix(CAC_RAW4RATERS)
    assert ag.gwet_ac2(counts, cats, scheme).p_e == pytest.approx(ac2_pe)


def test_ac2_and_fleiss_irrcac_distrib_6raters():
    # irrCAC vignette "weighting": gwet.ac1.dist(distrib.6raters, quadratic.weights(1:5))
    # = 0.4837438 (pa 0.8544444, pe 0.7180556); fleiss.kappa.dist(...) = 0.2511909
    # (pe 0.8056173). The categories are nominal labels, weighted by position 1..5.
    ac2 = ag.gwet_ac2(DISTRIB_6RATERS, weights="quadratic")
    assert (ac2.value, ac2.p_o, ac2.p_e) == pytest.approx(
        (0.4837438, 0.8544444, 0.7180556), abs=5e-7
    )
    kappa = ag.fleiss_kappa_missing(DISTRIB_6RATERS, weights="quadratic")
    assert (kappa.value, kappa.p_e) == pytest.approx((0.2511909, 0.8056173), abs=5e-7)


def test_fleiss_missing_is_fleiss_1971_with_equal_raters():
    classic = ag.fleiss_kappa(FLEISS_WIKIPEDIA)
    general = ag.fleiss_kappa_missing(FLEISS_WIKIPEDIA)
    assert (general.value, general.p_o, general.p_e) == pytest.approx(
        (classic.kappa, classic.p_bar, classic.p_e_bar)
    )


def test_unused_categories_keep_their_place():
    # A 1..5 scale where nobody used 4: passing the full scale changes q and the weights.
    raters = np.array([[1, 2, 3, 5, 5], [1, 2, 2, 5, 3]], dtype=float)
    cats, counts = ag.count_matrix(raters, categories=[1, 2, 3, 4, 5])
    assert counts.shape[1] == 5
    p_o, ac2_pe, _ = _raw_by_loops(np.c_[raters, [nan, 4.0]], "linear")  # 4 used once, alone
    full = ag.gwet_ac2(counts, cats, "linear")
    assert full.p_o == pytest.approx(p_o)  # the lone 4 is on an unpaired unit
    assert ag.gwet_ac2(counts[:, [0, 1, 2, 4]], cats[[0, 1, 2, 4]], "linear").p_e != full.p_e


def test_ac2_needs_ratings_and_two_categories():
    with pytest.raises(ValueError):
        ag.gwet_ac2(np.zeros((3, 2)))
    with pytest.raises(ValueError):
        ag.gwet_ac2(np.ones((3, 1)))
    assert np.isnan(ag.gwet_ac2([[1, 0], [0, 1]]).value)  # nobody rated a unit twice


# --- Cohen's p_o and p_e ------------------------------------------------------------------


def test_cohen_p_o_p_e_wikipedia_example():
    # Wikipedia, "Cohen's kappa": p_o = (20 + 15) / 50 = 0.7; p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5.
    got = ag.cohen_agreement([[20, 5], [10, 15]])
    assert (got.value, got.p_o, got.p_e) == pytest.approx((0.4, 0.7, 0.5))
    assert got.weights == "identity"


def test_cohen_weighted_p_o_irrcac_cont3x3abstractors():
    # irrCAC vignette "weighting": kappa2.table(cont3x3abstractors, quadratic.weights(1:3))
    # = 0.8921569 and pa2.table(..., quadratic) = 0.9725 (the weighted p_o).
    got = ag.cohen_agreement(GWET_3X3, "quadratic")
    assert got.value == pytest.approx(0.8921569, abs=5e-8)
    assert got.p_o == pytest.approx(0.9725)
    assert got.p_e == pytest.approx(1 - (1 - got.p_o) / (1 - got.value))


def test_cohen_table_from_labels():
    table = ag.cohen_table([1, 1, 2, 2, 3, nan], [1, 2, 2, 3, 3, 1], categories=[1, 2, 3, 4])
    assert table.tolist() == [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    assert np.isnan(ag.cohen_agreement(np.zeros((2, 2))).value)
