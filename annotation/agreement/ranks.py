"""Rank statistics: tied ranks, Kendall's W (one ranking table or every unit at once), tau-b.

* Kendall's W with tie correction (Kendall & Babington Smith 1939; Kendall 1948,
  Rank Correlation Methods; Legendre 2005), m rankers, n objects, R_i rank
  sums, t the sizes of the tie groups of each ranker::

      S = sum_i (R_i - mean(R))^2,   T = sum_rankers sum_groups (t^3 - t)
      W = 12 S / (m^2 (n^3 - n) - m T)

  m (n - 1) W is Friedman's chi-square statistic with its tie correction.
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

Example (three rankers, four objects; by hand: rank sums 4, 6, 8, 12, S = 35,
W = 12 * 35 / (9 * 60) = 7/9)::

    >>> tied_ranks([[10, 20, 20, 30]]).tolist()  # positions -> average ranks
    [[1.0, 2.5, 2.5, 4.0]]
    >>> round(kendall_w([[1, 2, 3, 4], [2, 1, 3, 4], [1, 3, 2, 4]]), 4)
    0.7778
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats as _stats  # type: ignore[import-untyped, unused-ignore]

from annotation.agreement.reliability import FloatArray


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


def kendall_w_per_unit(unit: npt.ArrayLike, ranks: npt.ArrayLike, n_units: int) -> FloatArray:
    """Kendall's W (tie-corrected, as `kendall_w`) of every unit's complete rankings at once.

    `ranks`: rankings x slots of average ranks (1 = best), nan in slots the unit lacks;
    every ranking of a unit must rank the same slots. nan for units with < 2 rankings.
    """
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
    t = np.bincount(u, ties, n_units)
    denominator = m**2 * (n**3 - n) - m * t
    ok = (m >= 2) & (denominator > 0)
    return np.where(ok, 12 * s_stat / np.where(ok, denominator, 1.0), np.nan)


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
