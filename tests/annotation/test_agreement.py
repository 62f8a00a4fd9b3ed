"""annotation.agreement against published worked examples and hand computations.

Every expected number below is either quoted from a publication (source named) or
worked out by hand in the comments; none was produced by the code under test.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from scipy import optimize, stats
from scipy.spatial import distance

from annotation import agreement as ag

nan = np.nan

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section E:
# observers A-D x 12 units, values 1..5, "." = missing. Unit 12 has one value only.
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
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


def test_alpha_on_a_million_judgments_is_fast_and_right():
    # Each labeler copies the unit's true category with probability rho, else draws
    # uniformly from K. Two values of a unit agree with probability rho^2 + (1 -
    # rho^2)/K, so D_o = (1 - rho^2)(1 - 1/K), D_e = 1 - 1/K and alpha = rho^2.
    rng = np.random.default_rng(0)
    units, labelers, k, rho = 200_000, 5, 8, 0.7
    truth = rng.integers(1, k + 1, units)
    copies = rng.random((labelers, units)) < rho
    data = np.where(copies, truth, rng.integers(1, k + 1, (labelers, units))).astype(float)
    start = time.perf_counter()
    alpha = ag.krippendorff_alpha(data, "nominal")
    elapsed = time.perf_counter() - start
    assert alpha == pytest.approx(rho**2, abs=0.005)
    assert elapsed < 10  # typically ~0.2 s; generous for a shared machine


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


# --- rank statistics ----------------------------------------------------------------


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


# --- bootstrap ----------------------------------------------------------------------


def _simulated_ratings(units: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, units)
    noise = rng.integers(-1, 2, (3, units)) * (rng.random((3, units)) < 0.4)
    return np.clip(truth + noise, 1, 5).astype(float)


def test_bootstrap_contains_estimate_and_shrinks():
    def alpha(rows: np.ndarray) -> float:
        return ag.krippendorff_alpha(rows.T, "interval")

    small = ag.bootstrap_ci(alpha, _simulated_ratings(100, 1).T, 300, seed=5)
    large = ag.bootstrap_ci(alpha, _simulated_ratings(1600, 1).T, 300, seed=5)
    for ci in (small, large):
        assert ci.low <= ci.estimate <= ci.high
        assert ci.n_undefined == 0
    assert (large.high - large.low) < 0.5 * (small.high - small.low)  # ~1/4 expected


def test_bootstrap_is_seeded_and_handles_vectors_and_nan():
    data = np.arange(20.0)[:, None]
    first = ag.bootstrap_ci(lambda d: d.mean(axis=0), data, 50, seed=1)
    again = ag.bootstrap_ci(lambda d: d.mean(axis=0), data, 50, seed=np.random.default_rng(1))
    assert first.low == again.low and first.estimate.shape == (1,)
    counts = np.array([[2.0, 0.0], [0.0, 2.0]])
    ci = ag.bootstrap_ci(lambda c: ag.alpha_from_counts(c, [0, 1]), counts, 100, seed=0)
    assert 0 < ci.n_undefined < 100  # resamples with one category have no alpha


# --- Bradley-Terry and Plackett-Luce ------------------------------------------------


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


# --- divergence and homogeneity -----------------------------------------------------


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


# --- Chorus scale mappings ----------------------------------------------------------


def test_scale_mappings():
    scale = [1, 4, 4.5, 5, 8, nan]
    np.testing.assert_array_equal(ag.scale_to_nominal(scale), [1, 1, 0, -1, -1, nan])
    np.testing.assert_array_equal(ag.scale_to_interval(scale), [3.5, 0.5, 0, -0.5, -3.5, nan])
    np.testing.assert_array_equal(ag.scale_to_score(scale), [1, 1, 0.5, 0, 0, nan])
    assert ag.CHOICE_A == 1 and ag.CHOICE_B == -1 and ag.CHOICE_TIE == 0
    with pytest.raises(ValueError):
        ag.scale_to_nominal([0])
    with pytest.raises(ValueError):
        ag.nominal_to_score([2])


def test_interval_and_ordinal_alpha_do_not_depend_on_the_scale_coding():
    data = _simulated_ratings(40, 9) + 3  # values 4..8 on the 8-point scale
    for level in ("ordinal", "interval"):
        raw = ag.krippendorff_alpha(data, level)
        assert ag.krippendorff_alpha(ag.scale_to_interval(data), level) == pytest.approx(raw)


def test_alpha_per_criterion():
    ratings = np.stack([KRIPPENDORFF_2011, KRIPPENDORFF_2011[::-1] * 0 + 1], axis=2)
    result = ag.alpha_per_criterion(ratings, "interval")
    assert result[0] == pytest.approx(0.849, abs=5e-4) and np.isnan(result[1])


def test_docstring_example_runs():
    import doctest

    assert doctest.testmod(ag).failed == 0
