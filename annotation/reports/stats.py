"""Statistics the agreement report needs that annotation.agreement does not (yet) offer.

Pure numpy/scipy, no Django; candidates to move into agreement.py. Each one is checked in
tests/annotation/test_report_stats.py against agreement.py or scipy on the same data.

* `alpha_from_coincidence` and `alpha_bootstrap`: Krippendorff's alpha from a coincidence
  matrix, and a percentile bootstrap over units that is exact but fast. Resampling units with
  replacement is the same as drawing multinomial weights over the *distinct* count rows
  (a pairwise item judged by five labelers has only a few hundred possible rows), and the
  coincidence matrix is linear in those weights: o* = sum_r w_r C_r with
  C_r = (n_r n_r^T - diag(n_r)) / (m_r - 1). So 200 resamples of 200,000 units cost a
  matrix product, not 200 passes over the data (Hayes & Krippendorff 2007 resample units).
* `bradley_terry_pairs`: the Bradley-Terry posterior of agreement.bradley_terry (same
  virtual-game prior, same centring) from aggregated pair counts (wins may be fractional:
  ties are half a win, ranking pairs carry weights), maximised by Newton's method, so
  bootstrap refits on 20 models take microseconds.
* `kendall_w_per_unit`: Kendall's W with tie correction for every unit at once.
* `logistic_fit`: weighted logistic regression by iteratively reweighted least squares,
  with Wald standard errors from the inverse information.
* `benjamini_hochberg`: adjusted p-values (q-values) controlling the false discovery rate
  (Benjamini & Hochberg 1995, J. R. Stat. Soc. B 57, 289-300).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special as _special  # type: ignore[import-untyped, unused-ignore]

from annotation.agreement import Level

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# --- Krippendorff's alpha -------------------------------------------------------------


def _differences(cats: FloatArray, n_c: FloatArray, level: Level) -> FloatArray:
    if level == "nominal":
        return 1.0 - np.eye(cats.size)
    if level == "ordinal":
        mid = np.cumsum(n_c) - n_c / 2.0
        return np.subtract.outer(mid, mid) ** 2
    if level == "interval":
        return np.subtract.outer(cats, cats) ** 2
    if level == "ratio":
        total = np.add.outer(cats, cats)
        diff = np.subtract.outer(cats, cats)
        return np.where(total == 0, 0.0, (diff / np.where(total == 0, 1.0, total)) ** 2)
    raise ValueError(f"unknown level of measurement: {level!r}")


def alpha_from_coincidence(o: FloatArray, categories: npt.ArrayLike, level: Level) -> float:
    """alpha = 1 - (n - 1) sum o_ck d2_ck / sum n_c n_k d2_ck (agreement.py's docstring)."""
    cats = np.asarray(categories, dtype=np.float64)
    n_c = o.sum(axis=1)
    n = float(n_c.sum())
    d2 = _differences(cats, n_c, level)
    expected = float(n_c @ d2 @ n_c)
    if n <= 1 or expected == 0.0:
        return float("nan")
    return 1.0 - (n - 1.0) * float(np.sum(o * d2)) / expected


@dataclass(frozen=True)
class Interval:
    value: float  # the statistic on all the data
    low: float  # percentile bound; nan when undefined
    high: float
    units: int  # units that entered (pairable units for alpha)


def _unique_rows(table: FloatArray) -> tuple[FloatArray, IntArray]:
    """Distinct rows of a count table and how often each occurs (rows as base-b integers)."""
    base = int(table.max()) + 1
    if base ** table.shape[1] >= 2**62:
        rows, counts = np.unique(table, axis=0, return_counts=True)
        return rows, counts
    keys = table.astype(np.int64) @ (base ** np.arange(table.shape[1], dtype=np.int64))
    distinct, first, counts = np.unique(keys, return_index=True, return_counts=True)
    return table[first], counts


def alpha_bootstrap(
    counts: npt.ArrayLike,
    categories: npt.ArrayLike,
    level: Level,
    n_resamples: int,
    confidence: float,
    rng: np.random.Generator,
) -> Interval:
    """Alpha of a units x categories count table with a percentile bootstrap CI over units."""
    table = np.asarray(counts, dtype=np.float64)
    table = table[table.sum(axis=1) >= 2]
    if table.shape[0] == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    rows, multiplicity = _unique_rows(table)
    m = rows.sum(axis=1)
    k = rows.shape[1]
    per_row = rows[:, :, None] * rows[:, None, :]
    per_row[:, np.arange(k), np.arange(k)] -= rows
    per_row /= (m - 1.0)[:, None, None]
    flat = per_row.reshape(rows.shape[0], k * k)
    value = alpha_from_coincidence((multiplicity @ flat).reshape(k, k), categories, level)
    if n_resamples < 1 or np.isnan(value):
        return Interval(value, float("nan"), float("nan"), int(table.shape[0]))
    weights = rng.multinomial(table.shape[0], multiplicity / multiplicity.sum(), size=n_resamples)
    draws = np.array(
        [alpha_from_coincidence(o.reshape(k, k), categories, level) for o in weights @ flat]
    )
    draws = draws[~np.isnan(draws)]
    tail = (1 - confidence) / 2
    low, high = np.quantile(draws, [tail, 1 - tail]) if draws.size else (np.nan, np.nan)
    return Interval(value, float(low), float(high), int(table.shape[0]))


def interval_alpha(unit: npt.ArrayLike, value: npt.ArrayLike) -> float:
    """Interval alpha of long-form data with any (continuous) values, without a count table.

    With d2 = (v - v')^2, sum_ck o_ck d2_ck = sum_u 2 m_u SS_u / (m_u - 1) and
    sum_ck n_c n_k d2_ck = 2 n SS, SS being sums of squares about the unit / overall mean
    over the pairable values (units with m_u >= 2), so alpha = 1 - (n - 1) D_o / D_e.
    """
    u = np.asarray(unit, dtype=np.int64)
    v = np.asarray(value, dtype=np.float64)
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


# --- Bradley-Terry from pair counts ---------------------------------------------------


def bradley_terry_pairs(
    first: npt.ArrayLike,
    second: npt.ArrayLike,
    wins_first: npt.ArrayLike,
    games: npt.ArrayLike,
    n_items: int,
    prior_games: float = 1.0,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> FloatArray:
    """Centred log-strengths maximising agreement.bradley_terry's posterior, from pair totals.

    Row r: items first[r] and second[r] met games[r] times (any weight) and first won
    wins_first[r] of them (ties count half). Newton steps with step halving; the prior
    (prior_games virtual games against a strength-1 opponent, half won) makes the
    objective strictly concave, so the maximum is unique.
    """
    i = np.asarray(first, dtype=np.int64)
    j = np.asarray(second, dtype=np.int64)
    w = np.asarray(wins_first, dtype=np.float64)
    g = np.asarray(games, dtype=np.float64)

    def objective(theta: FloatArray) -> float:
        d = theta[i] - theta[j]
        data = np.sum(w * d - g * np.logaddexp(0.0, d))
        prior = np.sum(theta / 2 - np.logaddexp(0.0, theta))
        return float(data + prior_games * prior)

    theta = np.zeros(n_items)
    current = objective(theta)
    for _ in range(max_iter):
        p = _special.expit(theta[i] - theta[j])
        q = _special.expit(theta)
        residual = w - g * p
        grad = np.bincount(i, residual, n_items) - np.bincount(j, residual, n_items)
        grad += prior_games * (0.5 - q)
        h = g * p * (1 - p)
        info = np.diag(
            np.bincount(i, h, n_items) + np.bincount(j, h, n_items) + prior_games * q * (1 - q)
        )
        np.add.at(info, (i, j), -h)
        np.add.at(info, (j, i), -h)
        step = np.linalg.solve(info, grad)
        scale = 1.0
        while scale > 1e-6:
            candidate = objective(theta + scale * step)
            if candidate >= current - 1e-12:
                break
            scale /= 2
        theta, current = theta + scale * step, candidate
        if float(np.max(np.abs(scale * step), initial=0.0)) < tol:
            break
    return theta - theta.mean() if theta.size else theta


# --- Kendall's W for many units -------------------------------------------------------


def kendall_w_per_unit(unit: npt.ArrayLike, ranks: npt.ArrayLike, n_units: int) -> FloatArray:
    """Kendall's W (tie-corrected, agreement.kendall_w) of every unit's complete rankings.

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


# --- logistic regression, FDR ---------------------------------------------------------


@dataclass(frozen=True)
class LogisticFit:
    intercept: float
    slope: float
    slope_se: float  # Wald standard error
    converged: bool


def logistic_fit(
    x: npt.ArrayLike, y: npt.ArrayLike, weight: npt.ArrayLike | None = None, ridge: float = 0.0
) -> LogisticFit:
    """P(y = 1) = expit(a + b x) by IRLS; y may be fractional (0.5 for a half win).

    Rows with the same x are pooled first (weights summed, y averaged): the same likelihood
    up to a constant, and a million comparisons shrink to the distinct length differences.
    `ridge` adds ridge / 2 * b^2 to the negative log-likelihood (a normal prior on the slope
    with variance 1 / ridge): it keeps b finite when x separates the outcomes perfectly.
    """
    x_all = np.asarray(x, dtype=np.float64)
    w_all = np.ones_like(x_all) if weight is None else np.asarray(weight, dtype=np.float64)
    xs, where = np.unique(x_all, return_inverse=True)
    ws = np.bincount(where.ravel(), w_all, xs.size)
    y_sum = np.bincount(where.ravel(), w_all * np.asarray(y, dtype=np.float64), xs.size)
    ys = y_sum / np.where(ws > 0, ws, 1)
    design = np.c_[np.ones_like(xs), xs]
    beta = np.zeros(2)
    converged = False
    info = np.eye(2)
    for _ in range(50):
        p = _special.expit(design @ beta)
        info = (design * (ws * p * (1 - p))[:, None]).T @ design + np.diag([0.0, ridge])
        grad = design.T @ (ws * (ys - p)) - np.array([0.0, ridge * beta[1]])
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            break
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            converged = True
            break
    try:
        se = float(np.sqrt(np.linalg.inv(info)[1, 1]))
    except np.linalg.LinAlgError:
        se = float("nan")
    return LogisticFit(float(beta[0]), float(beta[1]), se, converged)


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
