"""Group divergence: how far apart two groups' votes are, and whether the gap is chance.

* Jensen-Shannon divergence (Lin 1991, IEEE Trans. Inf. Theory 37(1)) between vote
  distributions P and Q, M = (P + Q) / 2, base-2 logs so it lies in [0, 1]::

      JSD = KL(P || M) / 2 + KL(Q || M) / 2

* Homogeneity test of two groups' vote counts (a 2 x K table): Pearson's chi-square
  with K' - 1 degrees of freedom (K' = categories used by anyone) when every expected
  count is >= `min_expected` (Cochran 1954's rule of 5); otherwise a Monte Carlo
  permutation test of the same statistic, shuffling group labels with the margins
  fixed (Agresti 2013, exact and Monte Carlo conditional tests), p = (1 + #{stat* >=
  stat}) / (1 + permutations).
* Many items tested at once: Benjamini & Hochberg (1995) adjusted p-values (q-values)
  control the false discovery rate. With p_(1) <= ... <= p_(m) over m hypotheses::

      q_(i) = min_{j >= i} min(1, p_(j) m / j)

  Hypotheses that were never tested count as p = 1 (`n_tests` > number of p-values).

References
==========
Agresti A. (2013) Categorical Data Analysis, 3rd ed. Wiley.
Benjamini Y., Hochberg Y. (1995) J. R. Stat. Soc. B 57, 289-300.
Cochran W.G. (1954) Some methods for strengthening the common chi2 tests. Biometrics 10.
Lin J. (1991) IEEE Trans. Inf. Theory 37(1), 145-151.

Example (disjoint votes diverge fully; equal shares not at all)::

    >>> float(jensen_shannon([1, 0], [0, 3])), float(jensen_shannon([2, 2], [5, 5]))
    (1.0, 0.0)
    >>> benjamini_hochberg([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.04, 0.04]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats as _stats  # type: ignore[import-untyped, unused-ignore]
from scipy.special import rel_entr  # type: ignore[import-untyped, unused-ignore]

from annotation.agreement.reliability import FloatArray


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


def benjamini_hochberg(p_values: npt.ArrayLike, n_tests: int | None = None) -> FloatArray:
    """BH-adjusted p-values; n_tests > len(p) counts untested hypotheses as p = 1."""
    p = np.asarray(p_values, dtype=np.float64)
    m = max(int(n_tests or p.size), p.size)
    if p.size == 0:
        return p
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, p.size + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty_like(p)
    out[order] = np.minimum(adjusted, 1.0)
    return out
