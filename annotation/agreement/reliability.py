"""Inter-rater reliability: count tables, Krippendorff's alpha, kappas, AC1, percent agreement.

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

Interval alpha of continuous values (`interval_alpha`: group means, not a scale) skips
the count table: with d2 = (v - v')^2, sum_ck o_ck d2_ck = sum_u 2 m_u SS_u / (m_u - 1)
and sum_ck n_c n_k d2_ck = 2 n SS, SS being sums of squares about the unit / overall
mean over the pairable values, so alpha = 1 - (n - 1) D_o / D_e as above.

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

References
==========
Cohen J. (1960) Educ. Psychol. Meas. 20, 37-46; (1968) Psychol. Bull. 70, 213-220.
Fleiss J.L. (1971) Measuring nominal scale agreement among many raters. Psychol. Bull. 76.
Gwet K.L. (2008) Br. J. Math. Stat. Psychol. 61, 29-48; (2014) Handbook of Inter-Rater
  Reliability, 4th ed. Advanced Analytics.
Krippendorff K. (2011) Computing Krippendorff's Alpha-Reliability. UPenn ASC papers 43.
Krippendorff K. (2019) Content Analysis: An Introduction to Its Methodology, 4th ed. Sage.

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

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Level = Literal["nominal", "ordinal", "interval", "ratio"]
Weights = Literal["linear", "quadratic"] | None


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


def alpha_from_coincidence(o: FloatArray, categories: npt.ArrayLike, level: Level) -> float:
    """Alpha from a coincidence matrix o_ck over sorted `categories` (the module docstring)."""
    cats = np.asarray(categories, dtype=np.float64)
    n_c = o.sum(axis=1)
    n = float(n_c.sum())
    d2 = _squared_differences(cats, n_c, level)
    expected = float(n_c @ d2 @ n_c)
    if n <= 1 or expected == 0.0:
        return float("nan")
    return 1.0 - (n - 1.0) * float(np.sum(o * d2)) / expected


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
    return alpha_from_coincidence(o, cats, level)


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


def interval_alpha(unit_ids: npt.ArrayLike, values: npt.ArrayLike) -> float:
    """Interval alpha of long-form data with any (continuous) values, without a count table.

    Sums of squares instead of a coincidence matrix (the module docstring), so values need
    not come from a small scale: group means, for instance.
    """
    u = np.asarray(unit_ids, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    keep = ~np.isnan(v)
    u, v = u[keep], v[keep]
    if u.size == 0:
        return float("nan")
    pairable = np.bincount(u)[u] >= 2
    u, v = u[pairable], v[pairable]
    n = v.size
    if n < 2:
        return float("nan")
    m = np.bincount(u).astype(np.float64)
    means = np.bincount(u, v) / np.maximum(m, 1)
    within = np.bincount(u, (v - means[u]) ** 2)
    has = m >= 2
    observed = float(np.sum(2 * m[has] * within[has] / (m[has] - 1)))
    expected = 2 * n * float(np.sum((v - v.mean()) ** 2))
    return 1.0 - (n - 1) * observed / expected if expected > 0 else float("nan")


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
