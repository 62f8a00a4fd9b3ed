"""Agreement, concordance and preference-strength statistics for Chorus judgments.

Pure numpy/scipy: nothing here imports Django. The glue turns `Judgment` rows into
the arrays described below and calls these functions.

Data shapes
===========
* reliability matrix: float array, labelers x units, ``np.nan`` where a labeler did
  not judge a unit (Krippendorff 2011's "reliability data").
* judgments in long form: two equal-length arrays ``unit_ids`` (ints 0..n_units-1)
  and ``values``; labeler identity is not needed by alpha, Fleiss or AC1.
* count table: float array, units x categories; ``counts[u, k]`` = how many labelers
  gave unit ``u`` the value ``categories[k]`` (Fleiss 1971's n_ij table). Built by
  `count_matrix` or `count_judgments`; rows of units nobody judged are all zero and
  every metric ignores them.

Krippendorff's alpha (Krippendorff 2011; Krippendorff 2019, ch. 12)
===================================================================
Coincidence matrix over the units u with m_u >= 2 values (others are unpairable and
dropped), n_uc = number of values c in unit u::

    o_ck = sum_u (n_uc * n_uk - [c == k] * n_uc) / (m_u - 1)
    n_c  = sum_k o_ck,   n = sum_c n_c
    alpha = 1 - D_o / D_e = 1 - (n - 1) * sum_ck o_ck d2_ck / sum_ck n_c n_k d2_ck

Difference functions d2_ck for values v_c < v_k:

* nominal:  0 if c == k else 1
* ordinal:  (sum_{g=c..k} n_g - (n_c + n_k) / 2) ** 2, i.e. squared difference of
  the mid-ranks r_c = cumsum(n)_c - n_c / 2, which is how it is computed here
* interval: (v_c - v_k) ** 2
* ratio:    ((v_c - v_k) / (v_c + v_k)) ** 2   (values must be >= 0)

Everything is a pair of matrix products over the count table, so a million
judgments cost a few bincounts and an 8 x 8 matrix; no loop over units. The number
of distinct values should stay modest (a rating scale, not raw floats): the count
table is dense, units x distinct values. Alpha is nan when D_e = 0 (no variation).

Kappas and AC1
==============
* Fleiss (1971), N units, n raters each, k categories, n_ij counts::

      p_j = sum_i n_ij / (N n),   P_i = (sum_j n_ij^2 - n) / (n (n - 1))
      P = mean_i P_i,  P_e = sum_j p_j^2,  kappa = (P - P_e) / (1 - P_e)
      kappa_j = 1 - sum_i n_ij (n - n_ij) / (N n (n - 1) p_j (1 - p_j))

* Cohen (1960) and weighted kappa (Cohen 1968), contingency table p_ij = f_ij / N,
  e_ij = p_i. p_.j, disagreement weights w_ij = [i != j] (unweighted), |i - j|
  (linear) or (i - j)^2 (quadratic), i, j being category positions::

      kappa_w = 1 - sum_ij w_ij p_ij / sum_ij w_ij e_ij

* Gwet's AC1 (Gwet 2008; the form for missing ratings as in Gwet 2014's Handbook),
  r_ik = count table, r_i = sum_k r_ik, q = number of categories::

      p_a  = mean over units with r_i >= 2 of sum_k r_ik (r_ik - 1) / (r_i (r_i - 1))
      pi_k = mean over units with r_i >= 1 of r_ik / r_i
      p_e  = sum_k pi_k (1 - pi_k) / (q - 1),   AC1 = (p_a - p_e) / (1 - p_e)

* Pairwise percent agreement is p_a above: per unit, the share of ordered labeler
  pairs that gave the same value, averaged over units with >= 2 labelers (equal
  to Fleiss's P when every unit has the same number of labelers).

Rank statistics
===============
* Kendall's W with tie correction (Kendall & Babington Smith 1939; Kendall 1948,
  Rank Correlation Methods; Legendre 2005), m rankers, n objects, R_i rank
  sums, t the sizes of the tie groups of each ranker::

      S = sum_i (R_i - mean(R))^2,   T = sum_rankers sum_groups (t^3 - t)
      W = 12 S / (m^2 (n^3 - n) - m T)

  m (n - 1) W is Friedman's chi-square statistic with its tie correction.
* Kendall's tau-b (Kendall 1945, "The treatment of ties in ranking problems")::

      tau_b = (n_c - n_d) / sqrt((n_0 - n_1) (n_0 - n_2))

  n_0 = n (n - 1) / 2 pairs, n_1 and n_2 the pairs tied in x and in y. O(n^2) time
  and memory: meant for rankings of up to a few thousand objects.

Bootstrap (Efron & Tibshirani 1993, ch. 13)
===========================================
`bootstrap_ci` resamples units (rows of its data) with replacement and reports the
percentile interval of the statistic. Resampling whole units keeps each unit's
labelers together, as Hayes & Krippendorff (2007) require for alpha; resamples on
which the statistic is undefined (nan) are dropped and counted.

Bradley-Terry and Plackett-Luce (Hunter 2004, "MM algorithms for generalized
Bradley-Terry models", Ann. Statist. 32(1))
=====================================================================
Bradley & Terry (1952): P(i beats j) = g_i / (g_i + g_j), theta = log g. A comparison
(a, b, s) scores s for a and 1 - s for b: s = 1 a wins, 0 b wins, 0.5 a tie (half a
win each). Log-posterior maximised::

    sum_comparisons [s theta_a + (1 - s) theta_b - log(g_a + g_b)]
    + sum_i prior_games * (theta_i / 2 - log(g_i + 1))

The second line is `prior_games` virtual games per item against a virtual opponent
of strength 1, half won and half lost (Coulom 2008 puts a prior on ratings the same
way, with virtual games against a fixed virtual player): a weak pull towards the
average that keeps an item that only wins, only loses or only ties finite. MM
update (Hunter 2004, plus the virtual games)::

    g_i <- (W_i + prior / 2) / (sum_j n_ij / (g_i + g_j) + prior / (g_i + 1))

Plackett-Luce (Luce 1959; Plackett 1975): a ranking is a sequence of choices, each
of the best remaining item from the items not yet chosen. Ties inside a ranking use
Breslow's (1974) rule from Cox regression: each member of a tied group is chosen
from the same set, the one that still holds the whole group. Each such choice gets
weight 1, except in the bottom group of size g where it gets (g - 1) / g, so a
ranking of K items always carries K - 1 choices, as an untied one does. With K = 2
this is exactly Bradley-Terry with a tie as half a win each. MM update (Hunter
2004's Plackett-Luce update, with the weights and the same virtual games)::

    g_t <- (w_t + prior / 2) / (sum_{stages s with t in R_s} c_s / sum_{i in R_s} g_i
                                + prior / (g_t + 1))

where w_t is t's total choice weight and c_s the total weight of stage s. After each
MM step both fits move all log-strengths by the one constant that maximises the
prior (the data do not see a common shift; without this step MM crawls along that
direction). Both return log-strengths centred at 0.

Group divergence
================
* Jensen-Shannon divergence (Lin 1991, IEEE Trans. Inf. Theory 37(1)) between vote
  distributions P and Q, M = (P + Q) / 2, base-2 logs so it lies in [0, 1]::

      JSD = KL(P || M) / 2 + KL(Q || M) / 2

* Homogeneity test of two groups' vote counts (a 2 x K table): Pearson's chi-square
  with K' - 1 degrees of freedom (K' = categories used by anyone) when every expected
  count is >= `min_expected` (Cochran 1954's rule of 5); otherwise a Monte Carlo
  permutation test of the same statistic, shuffling group labels with the margins
  fixed (Agresti 2013, exact and Monte Carlo conditional tests), p = (1 + #{stat* >=
  stat}) / (1 + permutations).

How Chorus maps judgments to metrics
====================================
* Pairwise 8-point scale: 1 = A much better, 2, 3, 4 = A slightly better,
  5 = B slightly better, 6, 7, 8 = B much better; a tie recorded on this scale is
  the midpoint 4.5 (`SCALE_TIE`).

  - ordinal and interval alpha: `scale_to_interval` maps s to 4.5 - s, the signed
    margin for A in [-3.5, 3.5] (tie = 0). Alpha is unchanged by this affine map, so
    raw 1..8 values give the same ordinal and interval alpha.
  - nominal (A / B / tie choice): `scale_to_nominal` collapses 1-4 to `CHOICE_A`,
    5-8 to `CHOICE_B` and the tie to `CHOICE_TIE`; use nominal alpha, Fleiss, AC1,
    Cohen on these codes.
  - Bradley-Terry between the two sides (responses or policies): `scale_to_score`
    gives 1 (A better), 0 (B better) or 0.5 (tie); `nominal_to_score` does the same
    from choice codes.
* Rankings of K responses: per response, the rank a labeler gave is an ordinal
  value (units = (prompt, response) pairs, alpha ordinal); per prompt, the labelers'
  rank vectors (`tied_ranks` turns positions into average ranks) give Kendall's W;
  across prompts, `plackett_luce` fits response or policy strengths.
* Rubric criteria: each criterion is its own reliability matrix; use ordinal alpha
  for a Likert-type scale, interval when the points are equally spaced
  (`alpha_per_criterion`).

References
==========
Agresti A. (2013) Categorical Data Analysis, 3rd ed. Wiley.
Bradley R.A., Terry M.E. (1952) Biometrika 39, 324-345.
Breslow N. (1974) Covariance analysis of censored survival data. Biometrics 30, 89-99.
Cochran W.G. (1954) Some methods for strengthening the common chi2 tests. Biometrics 10.
Cohen J. (1960) Educ. Psychol. Meas. 20, 37-46; (1968) Psychol. Bull. 70, 213-220.
Coulom R. (2008) Whole-History Rating. Computers and Games, LNCS 5131.
Efron B., Tibshirani R. (1993) An Introduction to the Bootstrap. Chapman & Hall.
Fleiss J.L. (1971) Measuring nominal scale agreement among many raters. Psychol. Bull. 76.
Gwet K.L. (2008) Br. J. Math. Stat. Psychol. 61, 29-48; (2014) Handbook of Inter-Rater
  Reliability, 4th ed. Advanced Analytics.
Hayes A.F., Krippendorff K. (2007) Commun. Methods Meas. 1(1), 77-89.
Hunter D.R. (2004) Ann. Statist. 32(1), 384-406.
Kendall M.G. (1945) Biometrika 33, 239-251; (1948) Rank Correlation Methods. Griffin.
Kendall M.G., Babington Smith B. (1939) Ann. Math. Statist. 10, 275-287.
Krippendorff K. (2011) Computing Krippendorff's Alpha-Reliability. UPenn ASC papers 43.
Legendre P. (2005) J. Agric. Biol. Environ. Stat. 10(2), 226-245.
Lin J. (1991) IEEE Trans. Inf. Theory 37(1), 145-151.
Luce R.D. (1959) Individual Choice Behavior; Plackett R.L. (1975) Appl. Statist. 24.

Example (Krippendorff 2011's worked example: observers A-D x 12 units)::

    >>> import numpy as np
    >>> nan = np.nan
    >>> data = np.array([
    ...     [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    ...     [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    ...     [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    ...     [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ... ])
    >>> [round(krippendorff_alpha(data, level), 3) for level in ("nominal", "interval")]
    [0.743, 0.849]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import optimize as _optimize  # type: ignore[import-untyped, unused-ignore]
from scipy import stats as _stats  # type: ignore[import-untyped, unused-ignore]
from scipy.special import rel_entr  # type: ignore[import-untyped, unused-ignore]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Level = Literal["nominal", "ordinal", "interval", "ratio"]
Weights = Literal["linear", "quadratic"] | None

SCALE_MIN, SCALE_MAX = 1, 8
SCALE_TIE = 4.5  # a tie recorded on the 8-point scale: the midpoint
CHOICE_A, CHOICE_TIE, CHOICE_B = 1.0, 0.0, -1.0  # nominal codes for the A/B/tie choice


# --- count tables -------------------------------------------------------------------


def count_judgments(
    unit_ids: npt.ArrayLike, values: npt.ArrayLike, categories: npt.ArrayLike | None = None
) -> tuple[FloatArray, FloatArray]:
    """Long-form judgments -> (sorted categories, units x categories count table).

    nan values are skipped. Unit ids are row numbers (0..max id). `categories`
    fixes the columns (e.g. 1..8 so an unused scale point keeps its place).
    """
    units = np.asarray(unit_ids, dtype=np.int64).ravel()
    vals = np.asarray(values, dtype=np.float64).ravel()
    if units.shape != vals.shape:
        raise ValueError("unit_ids and values must have the same length")
    if units.size and units.min() < 0:
        raise ValueError("unit ids must be >= 0")
    keep = ~np.isnan(vals)
    n_units = int(units.max()) + 1 if units.size else 0
    units, vals = units[keep], vals[keep]
    if categories is None:
        cats, col = np.unique(vals, return_inverse=True)
    else:
        cats = np.unique(np.asarray(categories, dtype=np.float64))
        col = np.minimum(np.searchsorted(cats, vals), max(cats.size - 1, 0))
        if vals.size and (cats.size == 0 or not np.array_equal(cats[col], vals)):
            raise ValueError("some values are not among the given categories")
    flat = np.bincount(units * cats.size + col, minlength=n_units * cats.size)
    return cats, flat.reshape(n_units, cats.size).astype(np.float64)


def count_matrix(
    reliability: npt.ArrayLike, categories: npt.ArrayLike | None = None
) -> tuple[FloatArray, FloatArray]:
    """Reliability matrix (labelers x units, nan = missing) -> categories, count table."""
    data = np.asarray(reliability, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError("reliability must be a 2-D array: labelers x units")
    unit_ids = np.broadcast_to(np.arange(data.shape[1]), data.shape)
    return count_judgments(unit_ids.ravel(), data.ravel(), categories)


# --- Krippendorff's alpha -------------------------------------------------------------


def coincidence_matrix(counts: npt.ArrayLike) -> FloatArray:
    """o_ck from a count table; units with fewer than two values are dropped."""
    table = np.asarray(counts, dtype=np.float64)
    m = table.sum(axis=1)
    pairable = table[m >= 2]
    weighted = pairable / (m[m >= 2] - 1.0)[:, None]
    o: FloatArray = weighted.T @ pairable
    o[np.diag_indices_from(o)] -= weighted.sum(axis=0)
    return o


def _squared_differences(categories: FloatArray, n_c: FloatArray, level: Level) -> FloatArray:
    v = categories
    if level == "nominal":
        return 1.0 - np.eye(v.size)
    if level == "ordinal":
        mid = np.cumsum(n_c) - n_c / 2.0
        return np.subtract.outer(mid, mid) ** 2
    if level == "interval":
        return np.subtract.outer(v, v) ** 2
    if level == "ratio":
        if v.size and v.min() < 0:
            raise ValueError("ratio alpha needs non-negative values")
        total = np.add.outer(v, v)
        diff = np.subtract.outer(v, v)
        safe = np.where(total == 0, 1.0, total)
        return np.asarray(np.where(total == 0, 0.0, (diff / safe) ** 2), dtype=np.float64)
    raise ValueError(f"unknown level of measurement: {level!r}")


def alpha_from_counts(
    counts: npt.ArrayLike, categories: npt.ArrayLike, level: Level = "nominal"
) -> float:
    """Krippendorff's alpha from a units x categories count table."""
    cats = np.asarray(categories, dtype=np.float64)
    if cats.ndim != 1 or np.any(np.diff(cats) <= 0):
        raise ValueError("categories must be strictly increasing")
    o = coincidence_matrix(counts)
    if o.shape != (cats.size, cats.size):
        raise ValueError("counts must have one column per category")
    n_c = o.sum(axis=1)
    n = float(n_c.sum())
    d2 = _squared_differences(cats, n_c, level)
    expected = float(n_c @ d2 @ n_c)
    if n <= 1 or expected == 0.0:
        return float("nan")
    return 1.0 - (n - 1.0) * float(np.sum(o * d2)) / expected


def krippendorff_alpha(
    reliability: npt.ArrayLike, level: Level = "nominal", categories: npt.ArrayLike | None = None
) -> float:
    """Krippendorff's alpha of a labelers x units matrix (nan = missing)."""
    cats, counts = count_matrix(reliability, categories)
    return alpha_from_counts(counts, cats, level)


def alpha_per_criterion(ratings: npt.ArrayLike, level: Level = "ordinal") -> FloatArray:
    """Alpha for each rubric criterion of a labelers x units x criteria array."""
    data = np.asarray(ratings, dtype=np.float64)
    if data.ndim != 3:
        raise ValueError("ratings must be labelers x units x criteria")
    return np.array([krippendorff_alpha(data[:, :, k], level) for k in range(data.shape[2])])


# --- kappas, AC1, percent agreement ---------------------------------------------------


@dataclass(frozen=True)
class FleissKappa:
    kappa: float  # overall Fleiss' kappa
    p_bar: float  # mean observed agreement P
    p_e_bar: float  # chance agreement P_e = sum p_j^2
    proportions: FloatArray  # p_j, share of all assignments in each category
    per_category: FloatArray  # kappa_j; nan for a category nobody or everybody used


def fleiss_kappa(counts: npt.ArrayLike) -> FleissKappa:
    """Fleiss' kappa of a units x categories table; every judged unit needs the same n."""
    table = np.asarray(counts, dtype=np.float64)
    table = table[table.sum(axis=1) > 0]
    per_unit = table.sum(axis=1)
    if table.size == 0 or np.any(per_unit != per_unit[0]) or per_unit[0] < 2:
        raise ValueError("Fleiss' kappa needs the same number (>= 2) of raters per unit")
    n_units, n = table.shape[0], per_unit[0]
    p_j = table.sum(axis=0) / (n_units * n)
    p_i = (np.sum(table**2, axis=1) - n) / (n * (n - 1))
    p_bar, p_e = float(p_i.mean()), float(np.sum(p_j**2))
    kappa = (p_bar - p_e) / (1 - p_e) if p_e < 1 else float("nan")
    spread = n_units * n * (n - 1) * p_j * (1 - p_j)
    disagreement = np.sum(table * (n - table), axis=0)
    safe = np.where(spread > 0, spread, 1.0)
    per_category = np.where(spread > 0, 1 - disagreement / safe, np.nan)
    return FleissKappa(kappa, p_bar, p_e, p_j, per_category)


def cohen_kappa_table(table: npt.ArrayLike, weights: Weights = None) -> float:
    """Cohen's (weighted) kappa from a k x k contingency table, rows = rater 1."""
    f = np.asarray(table, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] != f.shape[1]:
        raise ValueError("the contingency table must be square")
    i, j = np.indices(f.shape)
    if weights is None:
        w = (i != j).astype(np.float64)
    elif weights == "linear":
        w = np.abs(i - j).astype(np.float64)
    elif weights == "quadratic":
        w = ((i - j) ** 2).astype(np.float64)
    else:
        raise ValueError(f"unknown weights: {weights!r}")
    total = f.sum()
    expected = np.outer(f.sum(axis=1), f.sum(axis=0)) / total if total else f
    chance = float(np.sum(w * expected))
    return 1.0 - float(np.sum(w * f)) / chance if chance > 0 else float("nan")


def cohen_kappa(
    rater_a: npt.ArrayLike,
    rater_b: npt.ArrayLike,
    weights: Weights = None,
    categories: npt.ArrayLike | None = None,
) -> float:
    """Cohen's kappa between two raters' labels; pairs with a nan are dropped.

    Weights use category positions in `categories` (default: the sorted observed
    values), so pass the full scale (e.g. 1..8) when some points may be unused.
    """
    a = np.asarray(rater_a, dtype=np.float64).ravel()
    b = np.asarray(rater_b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError("the two raters must label the same units")
    both = ~(np.isnan(a) | np.isnan(b))
    a, b = a[both], b[both]
    cats = np.unique(np.concatenate([a, b]) if categories is None else np.asarray(categories))
    ia, ib = np.searchsorted(cats, a), np.searchsorted(cats, b)
    if (
        np.any(ia >= cats.size)
        or np.any(ib >= cats.size)
        or not (np.array_equal(cats[ia], a) and np.array_equal(cats[ib], b))
    ):
        raise ValueError("some labels are not among the given categories")
    table = np.bincount(ia * cats.size + ib, minlength=cats.size**2).reshape(cats.size, -1)
    return cohen_kappa_table(table, weights)


def _pairwise_agreement(table: FloatArray) -> float:
    r = table.sum(axis=1)
    many = table[r >= 2]
    if many.shape[0] == 0:
        return float("nan")
    r2 = r[r >= 2]
    return float(np.mean(np.sum(many * (many - 1), axis=1) / (r2 * (r2 - 1))))


def percent_agreement(counts: npt.ArrayLike) -> float:
    """Mean over units (>= 2 labelers) of the share of labeler pairs that agree."""
    return _pairwise_agreement(np.asarray(counts, dtype=np.float64))


def gwet_ac1(counts: npt.ArrayLike) -> float:
    """Gwet's AC1 of a units x categories table; q = number of columns (>= 2)."""
    table = np.asarray(counts, dtype=np.float64)
    q = table.shape[1]
    if q < 2:
        raise ValueError("AC1 needs at least two categories")
    r = table.sum(axis=1)
    rated = table[r >= 1]
    if rated.shape[0] == 0:
        raise ValueError("AC1 needs at least one rated unit")
    pi = np.mean(rated / r[r >= 1][:, None], axis=0)
    p_a = _pairwise_agreement(table)
    p_e = float(np.sum(pi * (1 - pi))) / (q - 1)
    return float((p_a - p_e) / (1 - p_e))


# --- rank statistics ----------------------------------------------------------------


def tied_ranks(positions: npt.ArrayLike) -> FloatArray:
    """Average ranks (1 = best = smallest) along the last axis; nan stays nan."""
    data = np.asarray(positions, dtype=np.float64)
    ranked = _stats.rankdata(data, axis=-1, nan_policy="omit") if data.size else data
    return np.asarray(ranked, dtype=np.float64)


def kendall_w(ranks: npt.ArrayLike) -> float:
    """Kendall's W with tie correction; `ranks` is rankers x objects (average ranks)."""
    r = np.asarray(ranks, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] < 2 or np.isnan(r).any():
        raise ValueError("ranks must be a complete rankers x objects matrix (n >= 2)")
    m, n = r.shape
    if not np.allclose(r.sum(axis=1), n * (n + 1) / 2):
        raise ValueError("each row must hold ranks 1..n (ties as average ranks)")
    totals = r.sum(axis=0)
    s = float(np.sum((totals - totals.mean()) ** 2))
    ordered = np.sort(r, axis=1)
    starts = np.ones_like(ordered, dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    group_sizes = np.bincount(np.cumsum(starts.ravel()) - 1).astype(np.float64)
    t = float(np.sum(group_sizes**3 - group_sizes))
    denominator = m**2 * (n**3 - n) - m * t
    return 12 * s / denominator if denominator > 0 else float("nan")


def kendall_tau_b(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Kendall's tau-b between two rankings or scorings of the same objects."""
    a = np.asarray(x, dtype=np.float64).ravel()
    b = np.asarray(y, dtype=np.float64).ravel()
    if a.shape != b.shape or a.size < 2:
        raise ValueError("x and y need the same length >= 2")
    upper = np.triu_indices(a.size, k=1)
    dx = np.sign(np.subtract.outer(a, a)[upper])
    dy = np.sign(np.subtract.outer(b, b)[upper])
    n0 = dx.size
    n1, n2 = int(np.sum(dx == 0)), int(np.sum(dy == 0))
    denominator = np.sqrt(float(n0 - n1) * float(n0 - n2))
    return float(np.sum(dx * dy)) / denominator if denominator > 0 else float("nan")


# --- bootstrap ----------------------------------------------------------------------


@dataclass(frozen=True)
class BootstrapCI:
    estimate: FloatArray  # statistic on the full data (0-d for a scalar statistic)
    low: FloatArray  # lower percentile bound
    high: FloatArray  # upper percentile bound
    confidence: float  # e.g. 0.95
    n_resamples: int  # resamples drawn
    n_undefined: int  # resamples whose statistic had a nan (left out)


def bootstrap_ci(
    stat_fn: Callable[[npt.NDArray[np.float64]], float | FloatArray],
    data_by_unit: npt.ArrayLike,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    *,
    seed: int | np.random.Generator,
) -> BootstrapCI:
    """Percentile bootstrap CI of stat_fn(data), resampling rows (units) of the data.

    Rows are the units: a count table as is, a reliability matrix transposed
    (``lambda d: krippendorff_alpha(d.T)`` on ``reliability.T``), comparisons or
    rankings for the preference models. stat_fn may return a scalar or an array.
    """
    if not 0 < confidence < 1 or n_resamples < 1:
        raise ValueError("need 0 < confidence < 1 and n_resamples >= 1")
    data = np.asarray(data_by_unit, dtype=np.float64)
    rng = np.random.default_rng(seed)
    estimate = np.asarray(stat_fn(data), dtype=np.float64)
    draws = np.empty((n_resamples, *estimate.shape))
    for b in range(n_resamples):  # loop over resamples; each statistic is vectorised
        draws[b] = stat_fn(data[rng.integers(0, data.shape[0], data.shape[0])])
    flat = draws.reshape(n_resamples, -1)
    defined = ~np.isnan(flat).any(axis=1)
    tail = (1 - confidence) / 2
    if defined.any():
        low, high = np.quantile(flat[defined], [tail, 1 - tail], axis=0)
    else:
        low = high = np.full(flat.shape[1], np.nan)
    return BootstrapCI(
        estimate,
        low.reshape(estimate.shape),
        high.reshape(estimate.shape),
        confidence,
        n_resamples,
        int(n_resamples - defined.sum()),
    )


# --- Bradley-Terry and Plackett-Luce ------------------------------------------------


def _weighted_count(index: IntArray, weights: FloatArray, n: int) -> FloatArray:
    return np.bincount(index, weights, n).astype(np.float64)


def _best_shift(theta: FloatArray) -> float:
    """c maximising the virtual-game prior over theta + c: sum sigmoid(theta + c) = n / 2.

    The data terms do not change when every log-strength moves by the same c, so
    this exact step along the all-ones direction is free; without it MM crawls
    along that direction, which only the weak prior pins down.
    """
    if theta.size == 0:
        return 0.0

    def excess(c: float) -> float:
        return float(np.sum(_stats.logistic.cdf(theta + c)) - theta.size / 2)

    low, high = -float(theta.max()) - 1.0, -float(theta.min()) + 1.0
    return float(_optimize.brentq(excess, low, high, xtol=1e-14))


def _mm(
    wins: FloatArray,
    denominator: Callable[[FloatArray], FloatArray],
    prior_games: float,
    tol: float,
    max_iter: int,
) -> FloatArray:
    """MM iterations g <- wins / denominator(g), each followed by the exact common shift."""
    if prior_games <= 0:
        raise ValueError("prior_games must be > 0 so that every strength stays finite")
    numerator = wins + prior_games / 2
    theta = np.zeros_like(wins)
    for _ in range(max_iter):
        g = np.exp(theta)
        updated = np.log(numerator / (denominator(g) + prior_games / (g + 1)))
        updated += _best_shift(updated)
        change = float(np.max(np.abs(updated - theta))) if theta.size else 0.0
        theta = updated
        if change < tol:
            break
    return theta - theta.mean() if theta.size else theta


def bradley_terry(
    comparisons: npt.ArrayLike,
    n_items: int,
    prior_games: float = 1.0,
    tol: float = 1e-9,
    max_iter: int = 10_000,
) -> FloatArray:
    """Bradley-Terry log-strengths (centred) from rows (item_a, item_b, score_a).

    score_a is 1 when a won, 0 when b won, 0.5 for a tie (any value in [0, 1]).
    """
    data = np.asarray(comparisons, dtype=np.float64).reshape(-1, 3)
    a, b, s = data[:, 0].astype(np.int64), data[:, 1].astype(np.int64), data[:, 2]
    if np.any((s < 0) | (s > 1)) or np.any(a == b):
        raise ValueError("scores must lie in [0, 1] and an item cannot meet itself")
    if data.shape[0] and (min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= n_items):
        raise ValueError("item ids must lie in 0..n_items-1")
    wins = _weighted_count(a, s, n_items) + _weighted_count(b, 1 - s, n_items)
    lo, hi = np.minimum(a, b), np.maximum(a, b)  # aggregate repeated pairs once
    pair_keys, pair_of = np.unique(lo * n_items + hi, return_inverse=True)
    games = np.bincount(pair_of).astype(np.float64)
    i, j = pair_keys // n_items, pair_keys % n_items

    def denominator(g: FloatArray) -> FloatArray:
        per_pair = games / (g[i] + g[j])
        return _weighted_count(i, per_pair, n_items) + _weighted_count(j, per_pair, n_items)

    return _mm(wins, denominator, prior_games, tol, max_iter)


def plackett_luce(
    items: npt.ArrayLike,
    ranks: npt.ArrayLike,
    n_items: int,
    prior_games: float = 1.0,
    tol: float = 1e-9,
    max_iter: int = 10_000,
) -> FloatArray:
    """Plackett-Luce log-strengths (centred) from rankings.

    items: rankings x slots item ids, -1 for an empty slot; ranks: same shape,
    1 = best, equal ranks = a tie (Breslow's rule, see the module docstring).
    Rankings with fewer than two ranked items carry no information and are skipped.
    """
    ids = np.asarray(items, dtype=np.int64)
    pos = np.asarray(ranks, dtype=np.float64)
    if ids.ndim != 2 or ids.shape != pos.shape:
        raise ValueError("items and ranks must be matching rankings x slots arrays")
    if ids.size and ids.max() >= n_items:
        raise ValueError("item ids must lie in -1..n_items-1")
    pos = np.where((ids >= 0) & ~np.isnan(pos), pos, np.inf)
    ids = ids[np.sum(np.isfinite(pos), axis=1) >= 2]  # one item ranked alone says nothing
    pos = pos[np.sum(np.isfinite(pos), axis=1) >= 2]
    order = np.argsort(pos, axis=1, kind="stable")
    ids, pos = np.take_along_axis(ids, order, 1), np.take_along_axis(pos, order, 1)
    valid = np.isfinite(pos)
    starts = valid.copy()
    starts[:, 1:] &= pos[:, 1:] != pos[:, :-1]
    group = np.cumsum(starts.ravel()).reshape(pos.shape) - 1  # group id of each slot
    size = np.bincount(group[valid]).astype(np.float64)
    last_slot = np.sum(valid, axis=1) - 1
    is_bottom = np.zeros(size.size, dtype=bool)
    is_bottom[group[np.arange(pos.shape[0]), last_slot]] = True
    stage_weight = np.where(is_bottom, size - 1, size)  # c_s: K - 1 choices per ranking
    member_weight = stage_weight / size
    slot_ids = np.where(valid, ids, 0)
    wins = _weighted_count(ids[valid], member_weight[group[valid]], n_items)
    stage_slot_weight = np.where(starts, stage_weight[group], 0.0)

    def denominator(g: FloatArray) -> FloatArray:
        strength = np.where(valid, g[slot_ids], 0.0)
        remaining = np.cumsum(strength[:, ::-1], axis=1)[:, ::-1]  # sum over slots >= p
        safe = np.where(starts, remaining, 1.0)
        per_slot = np.cumsum(np.where(starts, stage_slot_weight / safe, 0.0), axis=1)
        return _weighted_count(ids[valid], per_slot[valid], n_items)

    return _mm(wins, denominator, prior_games, tol, max_iter)


def bradley_terry_ci(
    comparisons: npt.ArrayLike,
    n_items: int,
    n_resamples: int = 200,
    confidence: float = 0.95,
    *,
    seed: int | np.random.Generator,
    prior_games: float = 1.0,
) -> BootstrapCI:
    """Bradley-Terry log-strengths with percentile CIs from resampled comparisons."""

    def fit(rows: FloatArray) -> FloatArray:
        return bradley_terry(rows, n_items, prior_games, tol=1e-7)

    data = np.asarray(comparisons, dtype=np.float64).reshape(-1, 3)
    return bootstrap_ci(fit, data, n_resamples, confidence, seed=seed)


def plackett_luce_ci(
    items: npt.ArrayLike,
    ranks: npt.ArrayLike,
    n_items: int,
    n_resamples: int = 200,
    confidence: float = 0.95,
    *,
    seed: int | np.random.Generator,
    prior_games: float = 1.0,
) -> BootstrapCI:
    """Plackett-Luce log-strengths with percentile CIs from resampled rankings."""
    stacked = np.stack([np.asarray(items, np.float64), np.asarray(ranks, np.float64)], -1)

    def fit(rows: FloatArray) -> FloatArray:
        return plackett_luce(rows[..., 0], rows[..., 1], n_items, prior_games, tol=1e-7)

    return bootstrap_ci(fit, stacked, n_resamples, confidence, seed=seed)


# --- group divergence ---------------------------------------------------------------


def jensen_shannon(p: npt.ArrayLike, q: npt.ArrayLike, base: float = 2.0) -> FloatArray:
    """JSD between distributions (counts or probabilities) along the last axis.

    Returns an array of shape p.shape[:-1] (0-d for two vectors; use float()).
    nan where a distribution has no mass.
    """
    pa, qa = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if pa.shape != qa.shape or np.any(pa < 0) or np.any(qa < 0):
        raise ValueError("p and q need the same shape and non-negative entries")
    p_tot, q_tot = pa.sum(axis=-1, keepdims=True), qa.sum(axis=-1, keepdims=True)
    pn = np.divide(pa, p_tot, out=np.zeros_like(pa), where=p_tot > 0)
    qn = np.divide(qa, q_tot, out=np.zeros_like(qa), where=q_tot > 0)
    mid = (pn + qn) / 2
    kl = np.sum(rel_entr(pn, mid) + rel_entr(qn, mid), axis=-1) / (2 * np.log(base))
    empty = (p_tot[..., 0] == 0) | (q_tot[..., 0] == 0)
    return np.asarray(np.where(empty, np.nan, np.maximum(kl, 0.0)), dtype=np.float64)


@dataclass(frozen=True)
class HomogeneityTest:
    statistic: float  # Pearson chi-square of the 2 x K table
    p_value: float  # nan when a group has no votes
    dof: int  # K' - 1, K' = categories anybody used
    method: Literal["chi2", "permutation", "undefined"]
    jsd: float  # Jensen-Shannon divergence (base 2) between the two groups


def _chi_square(a: FloatArray, col: FloatArray, n_a: float, n_b: float) -> FloatArray:
    total = n_a + n_b
    e_a, e_b = col * n_a / total, col * n_b / total
    return np.asarray(np.sum((a - e_a) ** 2 / e_a + (col - a - e_b) ** 2 / e_b, axis=-1))


def homogeneity_test(
    counts_a: npt.ArrayLike,
    counts_b: npt.ArrayLike,
    min_expected: float = 5.0,
    n_permutations: int = 9999,
    *,
    seed: int | np.random.Generator,
) -> HomogeneityTest:
    """Do two labeler groups' vote counts over the same categories differ?"""
    a = np.asarray(counts_a, dtype=np.float64).ravel()
    b = np.asarray(counts_b, dtype=np.float64).ravel()
    if a.shape != b.shape or np.any(a < 0) or np.any(b < 0) or np.any(a % 1) or np.any(b % 1):
        raise ValueError("counts must be non-negative integers of the same length")
    jsd = float(jensen_shannon(a, b))
    used = (a + b) > 0
    a, b = a[used], b[used]
    n_a, n_b = float(a.sum()), float(b.sum())
    if n_a == 0 or n_b == 0:
        return HomogeneityTest(float("nan"), float("nan"), 0, "undefined", jsd)
    col = a + b
    dof = int(col.size - 1)
    statistic = float(_chi_square(a, col, n_a, n_b))
    if dof == 0:
        return HomogeneityTest(0.0, 1.0, 0, "chi2", jsd)
    if np.min(np.outer([n_a, n_b], col)) / (n_a + n_b) >= min_expected:
        return HomogeneityTest(statistic, float(_stats.chi2.sf(statistic, dof)), dof, "chi2", jsd)
    rng = np.random.default_rng(seed)
    shuffled = rng.multivariate_hypergeometric(col.astype(np.int64), int(n_a), n_permutations)
    null = _chi_square(shuffled.astype(np.float64), col, n_a, n_b)
    exceed = int(np.sum(null >= statistic * (1 - 1e-12)))
    return HomogeneityTest(statistic, (1 + exceed) / (1 + n_permutations), dof, "permutation", jsd)


# --- Chorus scale mappings ----------------------------------------------------------


def _scale(scale: npt.ArrayLike) -> FloatArray:
    s = np.asarray(scale, dtype=np.float64)
    ok = np.isnan(s) | (s == SCALE_TIE) | (np.isin(s, np.arange(SCALE_MIN, SCALE_MAX + 1)))
    if not np.all(ok):
        raise ValueError("pairwise scale values must be 1..8, 4.5 (tie) or nan")
    return s


def scale_to_nominal(scale: npt.ArrayLike) -> FloatArray:
    """8-point scale -> CHOICE_A (1-4), CHOICE_B (5-8), CHOICE_TIE (4.5); nan stays nan."""
    return np.sign(SCALE_TIE - _scale(scale))


def scale_to_interval(scale: npt.ArrayLike) -> FloatArray:
    """8-point scale -> signed margin for A: 4.5 - s, in [-3.5, 3.5]; tie -> 0."""
    return SCALE_TIE - _scale(scale)


def scale_to_score(scale: npt.ArrayLike) -> FloatArray:
    """8-point scale -> Bradley-Terry score for A: 1 (A better), 0 (B better), 0.5 tie."""
    return nominal_to_score(scale_to_nominal(scale))


def nominal_to_score(choice: npt.ArrayLike) -> FloatArray:
    """CHOICE_A / CHOICE_TIE / CHOICE_B codes -> Bradley-Terry score for A: 1, 0.5, 0."""
    c = np.asarray(choice, dtype=np.float64)
    if not np.all(np.isnan(c) | np.isin(c, [CHOICE_A, CHOICE_TIE, CHOICE_B])):
        raise ValueError("choice codes must be CHOICE_A, CHOICE_TIE, CHOICE_B or nan")
    return (c + 1) / 2
