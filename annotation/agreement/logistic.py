"""The one logistic regression, and Bradley-Terry through it: from pair totals, with a
covariate, with a home / position effect, the exact maximum-likelihood fit and standard
errors from the Hessian.

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

Home / position effect (Agresti 2002, sec. 10.6; Hunter 2004; Davidson & Beaver 1977's
order effect on the logit scale)
=============================================================================
Each comparison of `bradley_terry_fit` may carry x = +1 when its first item held the
advantaged place (played at home; the response *shown first*), -1 when the second did,
0 when neither::

    P(first beats second) = expit(theta_first - theta_second + gamma x)

gamma > 0: the advantaged place wins more often than the strengths explain; expit(gamma)
is the chance that the shown-first of two equal items wins. For a position bias, list the
two responses in any fixed order (canonical A/B) and let x say which was shown first, so
that gamma is not confounded with the items' strengths.

Exact maximum likelihood and standard errors
============================================
With `prior_games=0` the fit maximises the likelihood itself (one item's theta fixed at 0
while fitting, then all centred). That maximum is finite iff the data are not separated
(Albert & Anderson 1984). For Bradley-Terry alone this is Zermelo's (1929) and Ford's
(1957) condition: every split of the items into two sets needs a win (or a tie, or a
fractional score) each way, i.e. the directed graph with an edge i -> j whenever i scored
against j is strongly connected; otherwise `NoFiniteMLE` names the strongly connected
components. With the position effect the graph condition is necessary but no longer
sufficient (the item shown first might win every time): a linear programme looks for a
direction d with (X d)_r >= 0 where the first won, <= 0 where it lost, = 0 for draws and
fractional scores, not all zero (Konis 2007); finding one means no finite fit.

Standard errors come from the Hessian of the log-likelihood, -X^T diag(w p (1 - p)) X
(with the prior's rows when `prior_games > 0`): the covariance of the free parameters is
its negative inverse, and that of the centred thetas C V C^T with C mapping the free
parameters to them (the delta method, exact for this linear map).

References
==========
Agresti A. (2002) Categorical Data Analysis, 2nd ed., sec. 10.6 (the 1987 American League
  East baseball example, p. 438). Wiley.
Albert A., Anderson J.A. (1984) Biometrika 71, 1-10.
Davidson R.R., Beaver R.J. (1977) Biometrics 33, 693-702.
Dubois Y. et al. (2024) Length-Controlled AlpacaEval. arXiv:2404.04475.
Ford L.R. (1957) Amer. Math. Monthly 64(8), 28-33.
Hunter D.R. (2004) Ann. Statist. 32(1), 384-406.
Konis K. (2007) Linear programming algorithms for detecting separated data in binary
  logistic regression models. DPhil thesis, Oxford.
McCullagh P., Nelder J.A. (1989) Generalized Linear Models, 2nd ed. Chapman & Hall.
Zermelo E. (1929) Math. Z. 29, 436-460.

Example (0 beats 1 twice, 1 beats 2, 0 and 2 tie; the MM solver of `strengths` agrees)::

    >>> import numpy as np
    >>> from annotation.agreement.strengths import bradley_terry
    >>> theta = bradley_terry([[0, 1, 1], [0, 1, 1], [1, 2, 1], [0, 2, 0.5]], 3)
    >>> pairs = bradley_terry_pairs([0, 1, 0], [1, 2, 2], [2, 1, 0.5], [2, 1, 1], 3)
    >>> bool(np.allclose(pairs, theta, atol=1e-6))
    True
    >>> # 0 at home beat 1 three games of four; 1 at home won two of four: both listed first
    >>> fit = bradley_terry_fit([0, 1], [1, 0], [0.75, 0.5], 2, position=[1, 1], weight=[4, 4])
    >>> [round(float(v), 4) for v in (fit.theta[0] - fit.theta[1], fit.position)]  # ln(3) / 2
    [0.5493, 0.5493]
    >>> try:  # 0 beats 1, 1 beats 2, nobody beats 0
    ...     bradley_terry_fit([0, 1], [1, 2], [1.0, 1.0], 3)
    ... except NoFiniteMLE as error:
    ...     print(error.components)
    [[0], [1], [2]]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize as _optimize  # type: ignore[import-untyped, unused-ignore]
from scipy import sparse as _sparse  # type: ignore[import-untyped, unused-ignore]
from scipy import special as _special  # type: ignore[import-untyped, unused-ignore]
from scipy.sparse import csgraph as _csgraph  # type: ignore[import-untyped, unused-ignore]

from annotation.agreement.reliability import FloatArray, IntArray

# --- the logistic regression ------------------------------------------------------------


@dataclass(frozen=True)
class LogisticFit:
    coef: FloatArray  # maximiser of the penalised log-likelihood, one per design column
    se: FloatArray  # Wald standard errors; nan when the information is singular
    converged: bool  # the last Newton step was below the tolerance
    covariance: FloatArray  # inverse information at coef (all nan when it is singular)


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
    p = _special.expit(x @ beta)
    cov = _inverse((x * (w * p * (1 - p))[:, None]).T @ x + np.diag(ridge))
    return LogisticFit(beta, np.sqrt(np.diag(cov)), converged, cov)


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


def _inverse(info: FloatArray) -> FloatArray:
    try:
        return np.asarray(np.linalg.inv(info), dtype=np.float64)
    except np.linalg.LinAlgError:
        return np.full_like(info, np.nan)


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
    `prior_games=0` gives the exact maximum-likelihood fit (`bradley_terry_fit`), which
    raises `NoFiniteMLE` when it does not exist.
    """
    if prior_games < 0:
        raise ValueError("prior_games must be >= 0")
    if prior_games == 0:
        rows = np.asarray(games, dtype=np.float64)
        share = np.divide(
            np.asarray(wins_first, dtype=np.float64), rows, out=np.full(rows.size, 0.5),
            where=rows > 0,
        )  # fmt: skip
        return bradley_terry_fit(first, second, share, n_items, weight=rows).theta
    i, j = np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64)
    wins, g = np.asarray(wins_first, dtype=np.float64), np.asarray(games, dtype=np.float64)
    design = np.vstack([_difference_design(i, j, n_items, 0), np.eye(n_items)])
    share = np.divide(wins, g, out=np.full(g.size, 0.5), where=g > 0)
    y = np.r_[share, np.full(n_items, 0.5)]
    weight = np.r_[g, np.full(n_items, prior_games)]
    theta = logistic_fit(design, y, weight, tol=tol, max_iter=max_iter).coef
    return theta - theta.mean() if theta.size else theta


def bradley_terry_covariate(
    comparisons: npt.ArrayLike,
    n_items: int,
    ridge: float = 1e-3,
    tol: float = 1e-10,
    covariates: int = 1,
) -> FloatArray:
    """[theta_0..theta_{n-1} (centred), beta_1..beta_k] from rows (item_a, item_b, score_a,
    x_1..x_k), k = `covariates`.

    P(a beats b) = expit(theta_a - theta_b + sum_j beta_j x_j), ridge / 2 on every squared
    coefficient.
    """
    data = np.asarray(comparisons, dtype=np.float64).reshape(-1, 3 + covariates)
    a, b = data[:, 0].astype(np.int64), data[:, 1].astype(np.int64)
    design = _difference_design(a, b, n_items, covariates)
    design[:, n_items:] = data[:, 3:]
    coef = logistic_fit(design, data[:, 2], penalty=ridge, tol=tol).coef
    coef[:n_items] -= coef[:n_items].mean()
    return coef


# --- Bradley-Terry with a position effect, exact or with the prior, with the Hessian -----


class NoFiniteMLE(ValueError):
    """The exact maximum-likelihood fit does not exist (the module docstring).

    `components`: the strongly connected components of the comparison graph when that is
    the reason (item ids, each sorted), else [].
    """

    def __init__(self, message: str, components: list[list[int]] | None = None) -> None:
        super().__init__(message)
        self.components = components or []


@dataclass(frozen=True)
class BradleyTerryFit:
    theta: FloatArray  # log-strengths, centred at 0
    se: FloatArray  # standard errors of the centred theta (inverse Hessian)
    position: float  # gamma, log-odds advantage of the advantaged place; nan when not fitted
    position_se: float
    covariance: FloatArray  # of [theta..., gamma] (gamma only when fitted)
    log_likelihood: float  # of the data (without the prior) at the fit
    prior_games: float  # 0: the exact maximum-likelihood fit
    converged: bool


def bradley_terry_fit(
    first: npt.ArrayLike,
    second: npt.ArrayLike,
    score: npt.ArrayLike,
    n_items: int,
    *,
    position: npt.ArrayLike | None = None,
    weight: npt.ArrayLike | None = None,
    prior_games: float = 0.0,
) -> BradleyTerryFit:
    """Bradley-Terry, optionally with a position effect, with standard errors from the Hessian.

    One row per comparison: `score` 1 when `first` won, 0 when `second` won, 0.5 a tie (any
    value in [0, 1]), `weight` its weight (default 1), `position` +1 / -1 / 0 when the first /
    the second / neither held the advantaged place (None: no position effect).
    `prior_games=0` is the exact maximum-likelihood fit and raises `NoFiniteMLE` when it does
    not exist; > 0 adds `bradley_terry`'s virtual games, which always give a finite fit.
    """
    i, j = np.asarray(first, dtype=np.int64).ravel(), np.asarray(second, dtype=np.int64).ravel()
    s = np.asarray(score, dtype=np.float64).ravel()
    w = np.ones(s.size) if weight is None else np.asarray(weight, dtype=np.float64).ravel()
    x = None if position is None else np.asarray(position, dtype=np.float64).ravel()
    _check_rows(i, j, s, w, x, n_items, prior_games)
    i, j, s, w, x = _pooled(i, j, s, w, x)
    extra = 0 if x is None else 1
    design = _difference_design(i, j, n_items, extra)
    if x is not None:
        design[:, n_items] = x
    if prior_games == 0:
        _check_exact(design, i, j, s, n_items)
        free = np.r_[np.arange(n_items - 1), np.arange(n_items, n_items + extra)]
        fit = logistic_fit(design[:, free], s, w)
        to_full = np.zeros((n_items + extra, free.size))
        to_full[free, np.arange(free.size)] = 1.0  # the last item's theta stays 0
    else:
        prior = np.zeros((n_items, n_items + extra))
        prior[:, :n_items] = np.eye(n_items)
        fit = logistic_fit(
            np.vstack([design, prior]), np.r_[s, np.full(n_items, 0.5)],
            np.r_[w, np.full(n_items, prior_games)],
        )  # fmt: skip
        to_full = np.eye(n_items + extra)
    centre = np.eye(n_items + extra)
    centre[:n_items, :n_items] -= 1.0 / n_items
    linear = centre @ to_full
    coef = linear @ fit.coef
    cov = linear @ fit.covariance @ linear.T
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    z = design @ coef
    loglik = float(np.sum(w * (s * z - np.logaddexp(0.0, z))))
    nan = float("nan")
    return BradleyTerryFit(
        coef[:n_items], se[:n_items], float(coef[n_items]) if extra else nan,
        float(se[n_items]) if extra else nan, cov, loglik, float(prior_games), fit.converged,
    )  # fmt: skip


def _pooled(
    i: IntArray, j: IntArray, s: FloatArray, w: FloatArray, x: FloatArray | None
) -> tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray | None]:
    """Identical rows (first, second, position, score) merged, their weights summed: the same
    likelihood, so a million comparisons cost what their few distinct rows cost."""
    keep = w > 0
    i, j, s, w = i[keep], j[keep], s[keep], w[keep]
    place = np.zeros(i.size, dtype=np.int64) if x is None else x[keep].astype(np.int64) + 1
    scores, score_index = np.unique(s, return_inverse=True)
    n = int(max(i.max(initial=0), j.max(initial=0))) + 1
    key = ((i * n + j) * 3 + place) * max(scores.size, 1) + score_index.ravel()
    unique, inverse = np.unique(key, return_inverse=True)
    weight = np.bincount(inverse.ravel(), w, unique.size).astype(np.float64)
    rest, score_of = np.divmod(unique, max(scores.size, 1))
    pair, place_of = np.divmod(rest, 3)
    first, second = np.divmod(pair, n)
    position = None if x is None else (place_of - 1).astype(np.float64)
    return first, second, scores[score_of], weight, position


def _check_rows(
    i: IntArray,
    j: IntArray,
    s: FloatArray,
    w: FloatArray,
    x: FloatArray | None,
    n_items: int,
    prior_games: float,
) -> None:
    if not (i.shape == j.shape == s.shape == w.shape) or (x is not None and x.shape != s.shape):
        raise ValueError("first, second, score, weight and position need one entry per row")
    if np.any((s < 0) | (s > 1)) or np.any(w < 0) or np.any(i == j):
        raise ValueError("scores lie in [0, 1], weights >= 0, and an item cannot meet itself")
    if i.size and (min(i.min(), j.min()) < 0 or max(i.max(), j.max()) >= n_items):
        raise ValueError("item ids must lie in 0..n_items-1")
    if x is not None and not np.all(np.isin(x, [-1.0, 0.0, 1.0])):
        raise ValueError("position must be +1, -1 or 0")
    if prior_games < 0:
        raise ValueError("prior_games must be >= 0")


def _check_exact(design: FloatArray, i: IntArray, j: IntArray, s: FloatArray, n_items: int) -> None:
    """Raise NoFiniteMLE unless the maximum-likelihood fit is finite (the module docstring)."""
    head = "no finite maximum-likelihood fit (prior_games=0)"
    advice = "Fit with prior_games > 0 (virtual games) instead."
    seen = np.zeros(n_items, dtype=bool)
    seen[i], seen[j] = True, True
    if not seen.all():
        missing = np.flatnonzero(~seen).tolist()
        raise NoFiniteMLE(f"{head}: items {missing} have no comparisons.\n{advice}")
    scored = np.r_[i[s > 0], j[s < 1]], np.r_[j[s > 0], i[s < 1]]  # edge: won something from
    graph = _sparse.coo_matrix((np.ones(scored[0].size), scored), shape=(n_items, n_items))
    count, label = _csgraph.connected_components(graph, directed=True, connection="strong")
    if count > 1:
        parts = sorted([np.flatnonzero(label == c).tolist() for c in range(count)])
        raise NoFiniteMLE(
            f"{head}: the comparisons are not strongly connected, so some items never score "
            f"against the others (Zermelo/Ford). Strongly connected components: "
            f"{'; '.join(map(str, parts))}.\n{advice}",
            parts,
        )
    if design.shape[1] > n_items and _separated(design, s):
        raise NoFiniteMLE(
            f"{head}: the position effect is not finite: together with the strengths, the "
            f"place alone predicts every outcome (e.g. the advantaged side always wins).\n"
            f"{advice}"
        )


def _separated(design: FloatArray, s: FloatArray) -> bool:
    """A direction d with sign(s - 1/2) X d >= 0 (= 0 for s strictly inside (0, 1)), not all
    zero, exists: the likelihood keeps rising along it (Konis 2007's linear programme)."""
    won, lost = design[s == 1], design[s == 0]
    inside = design[(s > 0) & (s < 1)]
    signed = np.vstack([won, -lost])
    if signed.shape[0] == 0:
        return False
    result = _optimize.linprog(
        -signed.sum(axis=0),
        A_ub=-signed,
        b_ub=np.zeros(signed.shape[0]),
        A_eq=inside if inside.shape[0] else None,
        b_eq=np.zeros(inside.shape[0]) if inside.shape[0] else None,
        bounds=[(-1.0, 1.0)] * design.shape[1],
        method="highs",
    )
    return bool(result.status == 0 and -result.fun > 1e-9)
