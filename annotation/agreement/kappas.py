"""Chance-corrected agreement: Fleiss' and Cohen's kappas, Gwet's AC1/AC2, percent agreement.

They take the count tables of `reliability` (units x categories, ``counts[u, k]`` = how many
labelers gave unit u category k; rows nobody judged are ignored) or, for Cohen, a k x k
contingency table. Every coefficient has the form (p_o - p_e) / (1 - p_e): observed
agreement p_o (Gwet's p_a) against the agreement p_e expected by chance, and the ones that
return `ChanceCorrected` report both, as R's irrCAC does.

Weights (Gwet 2014, ch. 3; irrCAC's ``*.weights`` functions)
============================================================
Agreement weights w_kl in [0, 1], w_kk = 1, over categories x_1 < ... < x_q (their values;
positions 1..q when none are given)::

    identity:   [k == l]                       (the unweighted coefficients)
    linear:     1 - |x_k - x_l| / (x_q - x_1)
    quadratic:  1 - (x_k - x_l)^2 / (x_q - x_1)^2
    ordinal:    1 - M_kl / max M,   M_kl = C(|k - l| + 1, 2)   (positions only)
    bipolar:    1 - B_kl / max B,   B_kl = (x_k - x_l)^2 / ((x_k + x_l - 2 x_1) (2 x_q - x_k - x_l)),
                B_kk = 0

Many raters, any number per unit (Gwet 2014, ch. 2-3: the missing-data forms)
===============================================================================
r_ik = count table, r_i = sum_k r_ik, r*_ik = sum_l w_kl r_il, q categories::

    p_o  = mean over units with r_i >= 2 of sum_k r_ik (r*_ik - 1) / (r_i (r_i - 1))
    pi_k = mean over units with r_i >= 1 of r_ik / r_i

* Gwet's AC2 (AC1 with identity weights; Gwet 2008)::

      p_e = sum_kl w_kl * sum_k pi_k (1 - pi_k) / (q (q - 1))

* Fleiss' kappa, missing-data form (Fleiss 1971 when every unit has the same n raters;
  Gwet 2014's generalisation otherwise, irrCAC's ``fleiss.kappa.raw``)::

      p_e = sum_kl w_kl pi_k pi_l

  With equal n and identity weights it is exactly Fleiss (1971)::

      p_j = sum_i n_ij / (N n),   P_i = (sum_j n_ij^2 - n) / (n (n - 1))
      P = mean_i P_i,  P_e = sum_j p_j^2,  kappa = (P - P_e) / (1 - P_e)
      kappa_j = 1 - sum_i n_ij (n - n_ij) / (N n (n - 1) p_j (1 - p_j))

  (`fleiss_kappa` returns that form, with the per-category kappa_j.)
* Pairwise percent agreement is the identity-weighted p_o: per unit, the share of ordered
  labeler pairs that gave the same value, averaged over units with >= 2 labelers.

Two raters: Cohen (1960), weighted (Cohen 1968)
===============================================
Contingency table p_kl = f_kl / N, e_kl = p_k. p_.l, disagreement weights d_kl = [k != l]
(unweighted), |k - l| (linear) or (k - l)^2 (quadratic), k, l being category positions::

    kappa_w = 1 - sum_kl d_kl p_kl / sum_kl d_kl e_kl

reported as p_o = sum w_kl p_kl and p_e = sum w_kl e_kl with the agreement weights
w = 1 - d / max d (irrCAC's kappa2.table convention): the same kappa.

References
==========
Cohen J. (1960) Educ. Psychol. Meas. 20, 37-46; (1968) Psychol. Bull. 70, 213-220.
Fleiss J.L. (1971) Measuring nominal scale agreement among many raters. Psychol. Bull. 76.
Gwet K.L. (2008) Br. J. Math. Stat. Psychol. 61, 29-48; (2014) Handbook of Inter-Rater
  Reliability, 4th ed. Advanced Analytics. R package irrCAC (Gwet 2019).

Example (irrCAC's ``cac.raw4raters``: 12 units, 4 raters, missing ratings)::

    >>> import numpy as np
    >>> from annotation.agreement.reliability import count_matrix
    >>> nan = np.nan
    >>> raters = np.array([
    ...     [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    ...     [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, nan],
    ...     [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, 3],
    ...     [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ... ])
    >>> cats, counts = count_matrix(raters)
    >>> ac2 = gwet_ac2(counts, cats, "quadratic")
    >>> [round(x, 4) for x in (ac2.value, ac2.p_o, ac2.p_e)]
    [0.914, 0.9754, 0.7137]
    >>> round(fleiss_kappa_missing(counts, cats).value, 4)
    0.7612
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from annotation.agreement.reliability import FloatArray

Weights = Literal["linear", "quadratic"] | None  # Cohen's disagreement weights (positions)
WeightScheme = Literal["identity", "linear", "quadratic", "ordinal", "bipolar"]
WEIGHT_SCHEMES: tuple[WeightScheme, ...] = ("identity", "linear", "quadratic", "ordinal", "bipolar")


@dataclass(frozen=True)
class ChanceCorrected:
    value: float  # (p_o - p_e) / (1 - p_e); nan when p_e = 1 or nothing was rated twice
    p_o: float  # observed (weighted) agreement, Gwet's p_a
    p_e: float  # agreement expected by chance
    weights: str  # the weighting scheme


def _corrected(p_o: float, p_e: float, weights: str) -> ChanceCorrected:
    value = (p_o - p_e) / (1 - p_e) if p_e < 1 and np.isfinite(p_o) else float("nan")
    return ChanceCorrected(float(value), float(p_o), float(p_e), weights)


# --- weights --------------------------------------------------------------------------


def agreement_weights(categories: npt.ArrayLike, scheme: WeightScheme = "identity") -> FloatArray:
    """q x q agreement weights (the module docstring) over sorted category values."""
    x = np.asarray(categories, dtype=np.float64).ravel()
    q = x.size
    if q and np.any(np.diff(x) <= 0):
        raise ValueError("categories must be strictly increasing")
    if scheme == "identity" or q < 2:
        if scheme not in WEIGHT_SCHEMES:
            raise ValueError(f"unknown weights: {scheme!r}")
        return np.eye(q)
    span = x[-1] - x[0]
    diff = np.subtract.outer(x, x)
    if scheme == "linear":
        return 1 - np.abs(diff) / span
    if scheme == "quadratic":
        return 1 - diff**2 / span**2
    if scheme == "ordinal":
        gap = np.abs(np.subtract.outer(np.arange(q), np.arange(q))) + 1.0
        m = gap * (gap - 1) / 2
        return 1 - m / m.max()
    if scheme == "bipolar":
        total = np.add.outer(x, x)
        denominator = (total - 2 * x[0]) * (2 * x[-1] - total)
        safe = np.where(denominator > 0, denominator, 1.0)
        b = np.where(np.eye(q, dtype=bool), 0.0, diff**2 / safe)
        return np.asarray(1 - b / b.max(), dtype=np.float64)
    raise ValueError(f"unknown weights: {scheme!r}")


# --- many raters: AC1/AC2, Fleiss, percent agreement -----------------------------------


def _table(
    counts: npt.ArrayLike, categories: npt.ArrayLike | None
) -> tuple[FloatArray, FloatArray]:
    table = np.asarray(counts, dtype=np.float64)
    if table.ndim != 2:
        raise ValueError("counts must be a units x categories table")
    cats = (
        np.arange(1.0, table.shape[1] + 1)
        if categories is None
        else np.asarray(categories, dtype=np.float64).ravel()
    )
    if cats.size != table.shape[1]:
        raise ValueError("counts must have one column per category")
    return table, cats


def _observed(table: FloatArray, w: FloatArray) -> float:
    """p_o: weighted share of agreeing ordered pairs, averaged over units with r_i >= 2."""
    r = table.sum(axis=1)
    many = r >= 2
    if not many.any():
        return float("nan")
    t, r2 = table[many], r[many]
    return float(np.mean(np.sum(t * (t @ w.T - 1), axis=1) / (r2 * (r2 - 1))))


def _shares(table: FloatArray) -> FloatArray:
    """pi_k: mean over rated units of the share of the unit's ratings in category k."""
    r = table.sum(axis=1)
    rated = table[r >= 1]
    if rated.shape[0] == 0:
        raise ValueError("no unit has a rating")
    return np.asarray(np.mean(rated / r[r >= 1][:, None], axis=0), dtype=np.float64)


def gwet_ac2(
    counts: npt.ArrayLike,
    categories: npt.ArrayLike | None = None,
    weights: WeightScheme = "quadratic",
) -> ChanceCorrected:
    """Gwet's AC2 (AC1 with "identity" weights) of a count table; any number of raters per unit.

    `categories`: the columns' values (weights use them; default positions 1..q). Pass the
    full scale so that unused points keep their place: q counts every column.
    """
    table, cats = _table(counts, categories)
    q = cats.size
    if q < 2:
        raise ValueError("AC1/AC2 needs at least two categories")
    w = agreement_weights(cats, weights)
    pi = _shares(table)
    p_e = float(w.sum()) * float(np.sum(pi * (1 - pi))) / (q * (q - 1))
    return _corrected(_observed(table, w), p_e, weights)


def gwet_ac1(counts: npt.ArrayLike) -> float:
    """Gwet's AC1 of a units x categories table; q = number of columns (>= 2)."""
    return gwet_ac2(counts, weights="identity").value


def fleiss_kappa_missing(
    counts: npt.ArrayLike,
    categories: npt.ArrayLike | None = None,
    weights: WeightScheme = "identity",
) -> ChanceCorrected:
    """Fleiss' kappa in its missing-data form: units may have different numbers of raters."""
    table, cats = _table(counts, categories)
    w = agreement_weights(cats, weights)
    pi = _shares(table)
    return _corrected(_observed(table, w), float(pi @ w @ pi), weights)


@dataclass(frozen=True)
class FleissKappa:
    kappa: float  # overall Fleiss' kappa
    p_bar: float  # mean observed agreement P
    p_e_bar: float  # chance agreement P_e = sum p_j^2
    proportions: FloatArray  # p_j, share of all assignments in each category
    per_category: FloatArray  # kappa_j; nan for a category nobody or everybody used


def fleiss_kappa(counts: npt.ArrayLike) -> FleissKappa:
    """Fleiss' (1971) kappa with per-category kappas; every judged unit needs the same n.

    `fleiss_kappa_missing` gives the same kappa and also takes unequal numbers of raters.
    """
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


def percent_agreement(counts: npt.ArrayLike) -> float:
    """Mean over units (>= 2 labelers) of the share of labeler pairs that agree."""
    table = np.asarray(counts, dtype=np.float64)
    return _observed(table, np.eye(table.shape[1]))


# --- two raters: Cohen -----------------------------------------------------------------


def cohen_agreement(table: npt.ArrayLike, weights: Weights = None) -> ChanceCorrected:
    """Cohen's (weighted) kappa with p_o and p_e, from a k x k table, rows = rater 1."""
    f = np.asarray(table, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] != f.shape[1]:
        raise ValueError("the contingency table must be square")
    i, j = np.indices(f.shape)
    if weights is None:
        d = (i != j).astype(np.float64)
    elif weights == "linear":
        d = np.abs(i - j).astype(np.float64)
    elif weights == "quadratic":
        d = ((i - j) ** 2).astype(np.float64)
    else:
        raise ValueError(f"unknown weights: {weights!r}")
    total = f.sum()
    if total == 0 or d.max() == 0:
        return ChanceCorrected(float("nan"), float("nan"), float("nan"), weights or "identity")
    w = 1 - d / d.max()
    p = f / total
    e = np.outer(p.sum(axis=1), p.sum(axis=0))
    return _corrected(float(np.sum(w * p)), float(np.sum(w * e)), weights or "identity")


def cohen_kappa_table(table: npt.ArrayLike, weights: Weights = None) -> float:
    """Cohen's (weighted) kappa from a k x k contingency table, rows = rater 1."""
    return cohen_agreement(table, weights).value


def cohen_table(
    rater_a: npt.ArrayLike, rater_b: npt.ArrayLike, categories: npt.ArrayLike | None = None
) -> FloatArray:
    """Two raters' labels -> k x k contingency table (rows = rater a); nan pairs dropped.

    Rows and columns follow `categories` (default: the sorted observed values), so pass the
    full scale (e.g. 1..8) when some points may be unused: weights use positions.
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
    flat = np.bincount(ia * cats.size + ib, minlength=cats.size**2)
    return flat.reshape(cats.size, -1).astype(np.float64)


def cohen_kappa(
    rater_a: npt.ArrayLike,
    rater_b: npt.ArrayLike,
    weights: Weights = None,
    categories: npt.ArrayLike | None = None,
) -> float:
    """Cohen's kappa between two raters' labels (`cohen_table`, then `cohen_kappa_table`)."""
    return cohen_kappa_table(cohen_table(rater_a, rater_b, categories), weights)
