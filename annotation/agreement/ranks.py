"""Rank statistics: tied ranks, Kendall's W (one ranking table or every unit at once), tau-b.

* Kendall's W with tie correction (Kendall & Babington Smith 1939; Kendall 1948,
  Rank Correlation Methods; Legendre 2005), m rankers, n objects, R_i rank
  sums, t the sizes of the tie groups of each ranker::

      S = sum_i (R_i - mean(R))^2,   T = sum_rankers sum_groups (t^3 - t)
      W = 12 S / (m^2 (n^3 - n) - m T)

  Without the correction (T = 0) it is Kendall's original W, which ties pull down.
  chi2 = m (n - 1) W, on n - 1 degrees of freedom, is Friedman's statistic (with its tie
  correction when W is corrected) and tests W = 0, valid for large samples (Legendre 2005;
  Siegel & Castellan 1988, sec. 9.4); `kendall_w_test` gives both forms with chi2 and p.
  `kendall_w_per_unit` computes the same W for every unit (prompt) of a ranking project
  with bincounts, without a loop over units.
* Kendall's tau-b (Kendall 1945, "The treatment of ties in ranking problems")::

      tau_b = (n_c - n_d) / sqrt((n_0 - n_1) (n_0 - n_2))

  n_0 = n (n - 1) / 2 pairs, n_1 and n_2 the pairs tied in x and in y. O(n^2) time
  and memory: meant for rankings of up to a few thousand objects.

References
==========
Kendall M.G. (1945) Biometrika 33, 239-251; (1948) Rank Correlation Methods. Griffin.
Kendall M.G., Babington Smith B. (1939) Ann. Math. Statist. 10, 275-287.
Legendre P. (2005) J. Agric. Biol. Environ. Stat. 10(2), 226-245.
Siegel S., Castellan N.J. (1988) Nonparametric Statistics for the Behavioral Sciences,
  2nd ed. McGraw-Hill.

Example (three rankers, four objects; by hand: rank sums 4, 6, 8, 12, S = 35,
W = 12 * 35 / (9 * 60) = 7/9)::

    >>> tied_ranks([[10, 20, 20, 30]]).tolist()  # positions -> average ranks
    [[1.0, 2.5, 2.5, 4.0]]
    >>> round(kendall_w([[1, 2, 3, 4], [2, 1, 3, 4], [1, 3, 2, 4]]), 4)
    0.7778
    >>> test = kendall_w_test([[1, 2, 3, 4], [1.5, 1.5, 3, 4], [1, 2, 3.5, 3.5]])
    >>> [round(x, 4) for x in (test.w, test.w_corrected, test.chi2_corrected, test.p_corrected)]
    [0.8889, 0.9524, 8.5714, 0.0356]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as _stats  # type: ignore[import-untyped, unused-ignore]

from annotation.agreement.reliability import FloatArray


def tied_ranks(positions: npt.ArrayLike) -> FloatArray:
    """Average ranks (1 = best = smallest) along the last axis; nan stays nan."""
    data = np.asarray(positions, dtype=np.float64)
    ranked = _stats.rankdata(data, axis=-1, nan_policy="omit") if data.size else data
    return np.asarray(ranked, dtype=np.float64)


@dataclass(frozen=True)
class KendallW:
    w: float  # Kendall's W without the tie correction
    w_corrected: float  # with the tie correction (= w when there are no ties)
    chi2: float  # m (n - 1) w
    chi2_corrected: float  # m (n - 1) w_corrected: Friedman's tie-corrected statistic
    df: int  # n - 1
    p: float  # upper chi-square tail of chi2
    p_corrected: float  # upper chi-square tail of chi2_corrected
    raters: int  # m
    objects: int  # n


def kendall_w_test(ranks: npt.ArrayLike) -> KendallW:
    """Kendall's W, uncorrected and tie-corrected, with chi2 = m (n - 1) W and p-values."""
    r = _check_ranks(ranks)
    m, n = r.shape
    s, t = _s_and_ties(r)
    w, wt = _w(s, m, n, 0.0), _w(s, m, n, t)
    chi2, chi2t = m * (n - 1) * w, m * (n - 1) * wt
    df = n - 1
    return KendallW(w, wt, chi2, chi2t, df, _chi2_sf(chi2, df), _chi2_sf(chi2t, df), int(m), int(n))


def _chi2_sf(x: float, df: int) -> float:
    return float(_stats.chi2.sf(x, df)) if np.isfinite(x) else float("nan")


def _w(s: float, m: int, n: int, t: float) -> float:
    denominator = m**2 * (n**3 - n) - m * t
    return 12 * s / denominator if denominator > 0 else float("nan")


def _check_ranks(ranks: npt.ArrayLike) -> FloatArray:
    r = np.asarray(ranks, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] < 2 or np.isnan(r).any():
        raise ValueError("ranks must be a complete rankers x objects matrix (n >= 2)")
    n = r.shape[1]
    if not np.allclose(r.sum(axis=1), n * (n + 1) / 2):
        raise ValueError("each row must hold ranks 1..n (ties as average ranks)")
    return r


def _s_and_ties(r: FloatArray) -> tuple[float, float]:
    """S (squared deviations of the rank sums) and T = sum of t^3 - t over tie groups."""
    totals = r.sum(axis=0)
    s = float(np.sum((totals - totals.mean()) ** 2))
    ordered = np.sort(r, axis=1)
    starts = np.ones_like(ordered, dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    group_sizes = np.bincount(np.cumsum(starts.ravel()) - 1).astype(np.float64)
    return s, float(np.sum(group_sizes**3 - group_sizes))


def kendall_w(ranks: npt.ArrayLike) -> float:
    """Kendall's W with tie correction; `ranks` is rankers x objects (average ranks)."""
    r = _check_ranks(ranks)
    m, n = r.shape
    s, t = _s_and_ties(r)
    return _w(s, m, n, t)


def kendall_w_per_unit(
    unit: npt.ArrayLike, ranks: npt.ArrayLike, n_units: int, corrected: bool = True
) -> FloatArray:
    """Kendall's W (as `kendall_w`; `corrected=False`: without the tie correction) of every
    unit's complete rankings at once.

    `ranks`: rankings x slots of average ranks (1 = best), nan in slots the unit lacks;
    every ranking of a unit must rank the same slots. nan for units with < 2 rankings.
    """
    s_stat, t, m, n = _unit_sums(unit, ranks, n_units)
    denominator = m**2 * (n**3 - n) - m * (t if corrected else 0.0)
    ok = (m >= 2) & (denominator > 0)
    return np.where(ok, 12 * s_stat / np.where(ok, denominator, 1.0), np.nan)


@dataclass(frozen=True)
class KendallWUnits:
    units: int  # units with a W (>= 2 complete rankings, some variation possible)
    mean_w: float  # mean W over those units, without the tie correction
    mean_w_corrected: float  # ... and with it
    chi2: float  # sum over units of m_u (n_u - 1) W_u (uncorrected)
    chi2_corrected: float  # the same with the tie-corrected W_u
    df: int  # sum over units of n_u - 1
    p: float  # upper chi-square tail of chi2 on df
    p_corrected: float


def kendall_w_units(unit: npt.ArrayLike, ranks: npt.ArrayLike, n_units: int) -> KendallWUnits:
    """Both forms of W over every unit, and the units' chi-squares pooled into one test.

    Each unit's m (n - 1) W is chi-square on n - 1 df under no concordance; for independent
    units their sum is chi-square on the summed df (the units of a project share labelers,
    so read the p-value as approximate).
    """
    s_stat, t, m, n = _unit_sums(unit, ranks, n_units)
    w = kendall_w_per_unit(unit, ranks, n_units, corrected=False)
    wt = kendall_w_per_unit(unit, ranks, n_units)
    ok = np.isfinite(w) & np.isfinite(wt)
    if not ok.any():
        nan = float("nan")
        return KendallWUnits(0, nan, nan, nan, nan, 0, nan, nan)
    chi2 = float(np.sum(m[ok] * (n[ok] - 1) * w[ok]))
    chi2t = float(np.sum(m[ok] * (n[ok] - 1) * wt[ok]))
    df = int(round(float(np.sum(n[ok] - 1))))
    return KendallWUnits(
        int(ok.sum()), float(w[ok].mean()), float(wt[ok].mean()),
        chi2, chi2t, df, _chi2_sf(chi2, df), _chi2_sf(chi2t, df),
    )  # fmt: skip


def _unit_sums(
    unit: npt.ArrayLike, ranks: npt.ArrayLike, n_units: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per unit: S, T (sum of t^3 - t over tie groups), m rankings and n ranked slots."""
    u = np.asarray(unit, dtype=np.int64)
    r = np.asarray(ranks, dtype=np.float64)
    present = ~np.isnan(r)
    n = np.bincount(u, present.sum(axis=1), n_units) / np.maximum(np.bincount(u, None, n_units), 1)
    m = np.bincount(u, None, n_units).astype(np.float64)
    filled = np.where(present, r, 0.0)
    totals = np.stack([np.bincount(u, filled[:, s], n_units) for s in range(r.shape[1])], axis=1)
    unit_present = np.stack(
        [np.bincount(u, present[:, s], n_units) > 0 for s in range(r.shape[1])], axis=1
    )
    mean = m * (n + 1) / 2
    s_stat = np.sum(np.where(unit_present, (totals - mean[:, None]) ** 2, 0.0), axis=1)
    equal = (r[:, :, None] == r[:, None, :]) & present[:, :, None]
    ties = np.sum(equal.sum(axis=2) ** 2 - 1, axis=1, where=present).astype(np.float64)
    t = np.bincount(u, ties, n_units).astype(np.float64)
    return np.asarray(s_stat, dtype=np.float64), t, m, np.asarray(n, dtype=np.float64)


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
