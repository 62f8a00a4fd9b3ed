"""Preference strengths: Bradley-Terry and Plackett-Luce by MM, with bootstrap intervals.

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

The exact maximum-likelihood fit (no prior), Bradley-Terry with a home / position effect and
standard errors from the Hessian live in `logistic`, where Bradley-Terry is a logistic
regression.

References
==========
Bradley R.A., Terry M.E. (1952) Biometrika 39, 324-345.
Breslow N. (1974) Covariance analysis of censored survival data. Biometrics 30, 89-99.
Coulom R. (2008) Whole-History Rating. Computers and Games, LNCS 5131.
Hunter D.R. (2004) Ann. Statist. 32(1), 384-406.
Luce R.D. (1959) Individual Choice Behavior; Plackett R.L. (1975) Appl. Statist. 24.

Example (0 beats 1 twice, 1 beats 2, 0 and 2 tie)::

    >>> import numpy as np
    >>> theta = bradley_terry([[0, 1, 1], [0, 1, 1], [1, 2, 1], [0, 2, 0.5]], 3)
    >>> [int(i) for i in np.argsort(-theta)]  # strongest first
    [0, 1, 2]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy import optimize as _optimize  # type: ignore[import-untyped, unused-ignore]
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
