"""Preference strengths: Bradley-Terry, Plackett-Luce and the one logistic regression.

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

Logistic regression, and Bradley-Terry as one
=============================================
`logistic_fit` maximises a weighted, fractional-outcome logistic log-likelihood with an
optional ridge, X the design, y_r in [0, 1] (a tie is 0.5), w_r >= 0::

    sum_r w_r (y_r z_r - log(1 + e^z_r)) - sum_k lambda_k beta_k^2 / 2,   z = X beta

by Newton's method (iteratively reweighted least squares; McCullagh & Nelder 1989),
halving a step that would lower the objective; Wald standard errors come from the inverse
information X^T diag(w p (1 - p)) X + diag(lambda) at the optimum. `logistic_fit_1d` is
the curve P(y = 1) = expit(a + b x): rows with equal x are pooled first (weights summed,
y averaged), the same likelihood up to a constant, so a million comparisons shrink to the
distinct x.

Bradley-Terry is a logistic regression on difference-coded rows: row (a, b) has +1 in
column a and -1 in column b, so z = theta_a - theta_b. The virtual-game prior above is a
logistic likelihood too: per item i, a row with +1 in column i, y = 1/2 and weight
`prior_games`. `bradley_terry_pairs` fits exactly the posterior of `bradley_terry` that
way, from aggregated pair totals. Two solvers for one posterior, by size: MM
(`bradley_terry`, shared with Plackett-Luce) needs memory linear in the comparisons and
scales to thousands of items; Newton (`bradley_terry_pairs`) solves an items x items
system and converges in a few steps, which is what many bootstrap refits of a few dozen
models need.

`bradley_terry_covariate` adds one covariate x per comparison (e.g. the standardised length
difference between a's and b's response; the length-controlled AlpacaEval of Dubois et al.
2024, reduced to one covariate)::

    P(a beats b) = expit(theta_a - theta_b + beta x)

with a small ridge on every coefficient instead of the virtual games (it keeps theta
finite when a model wins every comparison); theta is returned centred, then beta.

References
==========
Bradley R.A., Terry M.E. (1952) Biometrika 39, 324-345.
Breslow N. (1974) Covariance analysis of censored survival data. Biometrics 30, 89-99.
Coulom R. (2008) Whole-History Rating. Computers and Games, LNCS 5131.
Dubois Y. et al. (2024) Length-Controlled AlpacaEval. arXiv:2404.04475.
Hunter D.R. (2004) Ann. Statist. 32(1), 384-406.
Luce R.D. (1959) Individual Choice Behavior; Plackett R.L. (1975) Appl. Statist. 24.
McCullagh P., Nelder J.A. (1989) Generalized Linear Models, 2nd ed. Chapman & Hall.

Example (0 beats 1 twice, 1 beats 2, 0 and 2 tie; both solvers give the same posterior)::

    >>> import numpy as np
    >>> theta = bradley_terry([[0, 1, 1], [0, 1, 1], [1, 2, 1], [0, 2, 0.5]], 3)
    >>> [int(i) for i in np.argsort(-theta)]  # strongest first
    [0, 1, 2]
    >>> pairs = bradley_terry_pairs([0, 1, 0], [1, 2, 2], [2, 1, 0.5], [2, 1, 1], 3)
    >>> bool(np.allclose(pairs, theta, atol=1e-6))
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize as _optimize  # type: ignore[import-untyped, unused-ignore]
from scipy import special as _special  # type: ignore[import-untyped, unused-ignore]
from scipy import stats as _stats  # type: ignore[import-untyped, unused-ignore]

from annotation.agreement.bootstrap import BootstrapCI, bootstrap_ci
from annotation.agreement.reliability import FloatArray, IntArray

# --- Bradley-Terry and Plackett-Luce by MM --------------------------------------------


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


# --- logistic regression, and Bradley-Terry through it --------------------------------


@dataclass(frozen=True)
class LogisticFit:
    coef: FloatArray  # maximiser of the penalised log-likelihood, one per design column
    se: FloatArray  # Wald standard errors; nan when the information is singular
    converged: bool  # the last Newton step was below the tolerance


def logistic_fit(
    design: npt.ArrayLike,
    y: npt.ArrayLike,
    weight: npt.ArrayLike | None = None,
    penalty: npt.ArrayLike | float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> LogisticFit:
    """P(y = 1) = expit(design @ coef) by Newton's method; y may be fractional (0.5 a tie).

    `penalty` is lambda (one per column, or one for all) of the ridge lambda / 2 * coef^2.
    """
    x = np.asarray(design, dtype=np.float64)
    target = np.asarray(y, dtype=np.float64)
    w = np.ones(x.shape[0]) if weight is None else np.asarray(weight, dtype=np.float64)
    ridge = np.broadcast_to(np.asarray(penalty, dtype=np.float64), (x.shape[1],))

    def objective(beta: FloatArray) -> float:
        z = x @ beta
        return float(np.sum(w * (target * z - np.logaddexp(0.0, z))) - ridge @ beta**2 / 2)

    beta, current = np.zeros(x.shape[1]), objective(np.zeros(x.shape[1]))
    info, converged = np.diag(ridge), False
    for _ in range(max_iter):
        p = _special.expit(x @ beta)
        info = (x * (w * p * (1 - p))[:, None]).T @ x + np.diag(ridge)
        try:
            step = np.linalg.solve(info, x.T @ (w * (target - p)) - ridge * beta)
        except np.linalg.LinAlgError:
            break
        beta, current, step = _damped(objective, beta, step, current)
        if float(np.max(np.abs(step), initial=0.0)) < tol:
            converged = True
            break
    return LogisticFit(beta, _wald_se(info), converged)


def _damped(
    objective: Callable[[FloatArray], float], beta: FloatArray, step: FloatArray, current: float
) -> tuple[FloatArray, float, FloatArray]:
    """(new beta, its objective, the step taken): the Newton step, halved while it loses."""
    scale = 1.0
    while True:
        candidate = beta + scale * step
        value = objective(candidate)
        if value >= current - 1e-12 or scale < 1e-6:
            return candidate, value, scale * step
        scale /= 2


def _wald_se(info: FloatArray) -> FloatArray:
    try:
        return np.asarray(np.sqrt(np.diag(np.linalg.inv(info))), dtype=np.float64)
    except np.linalg.LinAlgError:
        return np.full(info.shape[0], np.nan)


def logistic_fit_1d(
    x: npt.ArrayLike, y: npt.ArrayLike, weight: npt.ArrayLike | None = None, ridge: float = 0.0
) -> LogisticFit:
    """coef = [intercept a, slope b] of P(y = 1) = expit(a + b x), equal x pooled first.

    `ridge` penalises the slope only (a normal prior with variance 1 / ridge): it keeps b
    finite when x separates the outcomes perfectly.
    """
    x_all = np.asarray(x, dtype=np.float64)
    w_all = np.ones_like(x_all) if weight is None else np.asarray(weight, dtype=np.float64)
    xs, where = np.unique(x_all, return_inverse=True)
    ws = np.bincount(where.ravel(), w_all, xs.size)
    y_sum = np.bincount(where.ravel(), w_all * np.asarray(y, dtype=np.float64), xs.size)
    ys = y_sum / np.where(ws > 0, ws, 1)
    return logistic_fit(np.c_[np.ones_like(xs), xs], ys, ws, [0.0, ridge])


def _difference_design(first: IntArray, second: IntArray, n_items: int, extra: int) -> FloatArray:
    """Rows with +1 in column first[r], -1 in column second[r], and `extra` zero columns."""
    design = np.zeros((first.size, n_items + extra))
    design[np.arange(first.size), first] += 1.0
    design[np.arange(second.size), second] -= 1.0
    return design


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
    """Centred log-strengths maximising `bradley_terry`'s posterior, from pair totals.

    Row r: items first[r] and second[r] met games[r] times (any weight) and first won
    wins_first[r] of them (ties count half). A logistic fit (the module docstring).
    """
    if prior_games <= 0:
        raise ValueError("prior_games must be > 0 so that every strength stays finite")
    i, j = np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64)
    wins, g = np.asarray(wins_first, dtype=np.float64), np.asarray(games, dtype=np.float64)
    design = np.vstack([_difference_design(i, j, n_items, 0), np.eye(n_items)])
    share = np.divide(wins, g, out=np.full(g.size, 0.5), where=g > 0)
    y = np.r_[share, np.full(n_items, 0.5)]
    weight = np.r_[g, np.full(n_items, prior_games)]
    theta = logistic_fit(design, y, weight, tol=tol, max_iter=max_iter).coef
    return theta - theta.mean() if theta.size else theta


def bradley_terry_covariate(
    comparisons: npt.ArrayLike, n_items: int, ridge: float = 1e-3, tol: float = 1e-10
) -> FloatArray:
    """[theta_0..theta_{n-1} (centred), beta] from rows (item_a, item_b, score_a, x).

    P(a beats b) = expit(theta_a - theta_b + beta x), ridge / 2 on every squared coefficient.
    """
    data = np.asarray(comparisons, dtype=np.float64).reshape(-1, 4)
    a, b = data[:, 0].astype(np.int64), data[:, 1].astype(np.int64)
    design = _difference_design(a, b, n_items, 1)
    design[:, n_items] = data[:, 3]
    coef = logistic_fit(design, data[:, 2], penalty=ridge, tol=tol).coef
    coef[:n_items] -= coef[:n_items].mean()
    return coef
