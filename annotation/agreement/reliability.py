"""Inter-rater reliability: count tables and Krippendorff's alpha.

The kappas, Gwet's AC1/AC2 and percent agreement, which take the same count tables, live in
`kappas`.

Data shapes
===========
* reliability matrix: float array, labelers x units, ``np.nan`` where a labeler did
  not judge a unit (Krippendorff 2011's "reliability data").
* judgments in long form: two equal-length arrays ``unit_ids`` (ints 0..n_units-1)
  and ``values``; labeler identity is not needed by alpha, Fleiss or AC1/AC2.
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

References
==========
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

from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Level = Literal["nominal", "ordinal", "interval", "ratio"]


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
