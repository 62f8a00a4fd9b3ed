"""Which response sources win (per group, Bradley-Terry with CIs), whether the response shown
first wins (position effect), and the length bias."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special as _special  # type: ignore[import-untyped, unused-ignore]
from scipy import stats as _stats  # type: ignore[import-untyped, unused-ignore]

from annotation import agreement as ag
from annotation.preferences import ranking_weight
from annotation.reports.inputs import (
    PAIRWISE,
    VOTE_A,
    VOTE_B,
    VOTE_TIE,
    BoolArray,
    FloatArray,
    IntArray,
    ReportConfig,
    ReportInput,
)

LENGTH_UNIT = 100.0  # length effects are per 100 characters
RIDGE = 1.0  # prior on the slope, N(0, 1) per 100 chars: negligible with data, finite without


@dataclass(frozen=True)
class Comparisons:
    judgment: IntArray  # index of the judgment each comparison came from
    first: IntArray  # canonical position of the first response
    second: IntArray
    score: FloatArray  # 1 first won, 0 second won, 0.5 tie
    weight: FloatArray


def comparisons(inp: ReportInput) -> Comparisons:
    """Every judgment as comparisons between two responses (see the module doc)."""
    if inp.kind == PAIRWISE:
        j = np.flatnonzero(np.isin(inp.vote, [VOTE_A, VOTE_B, VOTE_TIE]))
        score = np.choose(inp.vote[j], [1.0, 0.0, 0.5])
        zeros = np.zeros(j.size, dtype=np.int64)
        return Comparisons(j, zeros, zeros + 1, score, np.ones(j.size))
    ranked = (~np.isnan(inp.ranks)).sum(axis=1)
    # Each pair of a K-way ranking weighs 1/C(K, 2), by the one rule in annotation.preferences.
    pair_weight = np.array([0.0, 0.0] + [ranking_weight(k) for k in range(2, inp.k + 1)])
    parts = []
    for p in range(inp.k):
        for q in range(p + 1, inp.k):
            rp, rq = inp.ranks[:, p], inp.ranks[:, q]
            j = np.flatnonzero(~np.isnan(rp) & ~np.isnan(rq))
            score = np.where(rp[j] < rq[j], 1.0, np.where(rp[j] > rq[j], 0.0, 0.5))
            weight = pair_weight[ranked[j]]
            parts.append((j, np.full(j.size, p), np.full(j.size, q), score, weight))
    return Comparisons(*(np.concatenate([part[f] for part in parts]) for f in range(5)))


def preferences(
    inp: ReportInput,
    comp: Comparisons,
    regular: BoolArray,
    masks: dict[str, BoolArray],
    cfg: ReportConfig,
    rng: np.random.Generator,
) -> dict[str, Any]:
    item = inp.item[comp.judgment]
    model_a, model_b = inp.slot_model[item, comp.first], inp.slot_model[item, comp.second]
    usable = regular[comp.judgment] & (model_a >= 0) & (model_b >= 0) & (model_a != model_b)
    groups: dict[str, Any] = {}
    result: dict[str, Any] = {"models": inp.models, "all": None, "groups": groups}
    for name, mask in {"": regular, **masks}.items():
        keep = usable & mask[comp.judgment]
        figures = _model_strengths(
            model_a[keep],
            model_b[keep],
            comp.score[keep],
            comp.weight[keep],
            len(inp.models),
            cfg,
            rng,
        )
        if name:
            groups[name] = figures
        else:
            result["all"] = figures
    return result


def position_effect(
    inp: ReportInput, comp: Comparisons, regular: BoolArray, cfg: ReportConfig
) -> dict[str, Any]:
    """Does the response shown first win? Bradley-Terry over the response sources with a
    position effect gamma (agreement.bradley_terry_fit): x = +1 when a comparison's first
    response (canonical order) was the one *shown* first (Judgment.display_order[0]), -1 when
    its second was, 0 when neither (rankings). Exact maximum likelihood when it exists, else
    the fit with one virtual game per source; Wald interval from the Hessian."""
    item = inp.item[comp.judgment]
    shown = inp.first_shown[comp.judgment]
    x = np.where(shown == comp.first, 1.0, np.where(shown == comp.second, -1.0, 0.0))
    model_a, model_b = inp.slot_model[item, comp.first], inp.slot_model[item, comp.second]
    keep = regular[comp.judgment] & (shown >= 0) & (model_a >= 0) & (model_b >= 0)
    keep &= model_a != model_b
    involved = keep & (x != 0)
    first_won = np.where(x > 0, comp.score, 1 - comp.score)[involved]
    out: dict[str, Any] = {
        "comparisons": int(involved.sum()),
        "first_wins": float(np.average(first_won, weights=comp.weight[involved]))
        if involved.any()
        else None,
        "effect": None, "se": None, "low": None, "high": None, "p_value": None,
        "first_wins_equal": None, "first_wins_low": None, "first_wins_high": None,
        "method": None, "note": "",
    }  # fmt: skip
    if out["comparisons"] < cfg.min_comparable:
        return out
    played, index = np.unique(np.r_[model_a[keep], model_b[keep]], return_inverse=True)
    a, b = index[: int(keep.sum())], index[int(keep.sum()) :]
    args = (a, b, comp.score[keep], played.size)
    try:
        fit = ag.bradley_terry_fit(*args, position=x[keep], weight=comp.weight[keep])
        out["method"] = "exact"
    except ag.NoFiniteMLE as error:
        fit = ag.bradley_terry_fit(*args, position=x[keep], weight=comp.weight[keep], prior_games=1)
        out["method"], out["note"] = "prior", str(error).splitlines()[0]
    z = float(_stats.norm.ppf(0.5 + cfg.confidence / 2))
    gamma, se = fit.position, fit.position_se
    out.update(
        effect=gamma, se=se, low=gamma - z * se, high=gamma + z * se,
        p_value=float(2 * _stats.norm.sf(abs(gamma / se))) if se > 0 else None,
        first_wins_equal=float(_special.expit(gamma)),
        first_wins_low=float(_special.expit(gamma - z * se)),
        first_wins_high=float(_special.expit(gamma + z * se)),
    )  # fmt: skip
    return out


def _model_strengths(
    a: IntArray,
    b: IntArray,
    score: FloatArray,
    weight: FloatArray,
    n: int,
    cfg: ReportConfig,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Win rates and Bradley-Terry log-strengths per model, with bootstrap CIs."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    half_wins = np.rint(2 * np.where(a == lo, score, 1 - score)).astype(np.int64)  # 0, 1, 2
    keys, inverse, rows = np.unique(
        (lo * n + hi) * 3 + half_wins, return_inverse=True, return_counts=True
    )
    mean_weight = np.bincount(inverse.ravel(), weight, keys.size) / np.maximum(rows, 1)
    i, j, s = keys // 3 // n, keys // 3 % n, (keys % 3) / 2.0

    def fit(row_counts: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        w = row_counts * mean_weight
        wins = np.bincount(i, w * s, n) + np.bincount(j, w * (1 - s), n)
        games = np.bincount(i, w, n) + np.bincount(j, w, n)
        strengths = ag.bradley_terry_pairs(i, j, w * s, w, n)
        rate = np.divide(wins, games, out=np.full(n, np.nan), where=games > 0)
        return strengths, rate, games.astype(np.float64)

    # Comparisons each model took part in, unweighted: a ranking's pairs weigh 1/C(K, 2), so
    # the weighted `games` of a model in two 4-way rankings is 1/3 (shown as "0" once rounded).
    counts = np.bincount(i, rows, n) + np.bincount(j, rows, n)

    if keys.size == 0:
        empty = [None] * n
        return {
            "comparisons": 0,
            "games": [0] * n,
            "counts": [0] * n,
            "win_rate": empty,
            "win_low": empty,
            "win_high": empty,
            "strength": empty,
            "strength_low": empty,
            "strength_high": empty,
        }
    strengths, rate, games = fit(rows.astype(np.float64))
    draws = rng.multinomial(int(rows.sum()), rows / rows.sum(), size=cfg.n_resamples).astype(
        np.float64
    )
    boot = [fit(d) for d in draws]
    s_low, s_high = ag.percentile_interval(np.array([x[0] for x in boot]), cfg.confidence)
    played = games > 0
    r_low, r_high = _finite_percentiles(np.array([x[1] for x in boot]), played, cfg.confidence)
    return {
        "comparisons": int(a.size),
        "games": games.tolist(),
        "counts": counts.astype(np.int64).tolist(),
        "win_rate": rate.tolist(),
        "win_low": np.where(played, r_low, np.nan).tolist(),
        "win_high": np.where(played, r_high, np.nan).tolist(),
        "strength": np.where(played, strengths, np.nan).tolist(),
        "strength_low": np.where(played, s_low, np.nan).tolist(),
        "strength_high": np.where(played, s_high, np.nan).tolist(),
    }


def _finite_percentiles(
    draws: FloatArray, columns: BoolArray, confidence: float
) -> tuple[FloatArray, FloatArray]:
    """Percentile interval of each wanted column over its finite draws only (a resample may
    miss a rarely compared model, whose win rate is then nan); nan elsewhere."""
    low, high = np.full(draws.shape[1], np.nan), np.full(draws.shape[1], np.nan)
    for m in np.flatnonzero(columns):
        finite = draws[:, m][np.isfinite(draws[:, m])]
        if finite.size:
            low[m], high[m] = ag.percentile_interval(finite, confidence)
    return low, high


def length_bias(
    inp: ReportInput, comp: Comparisons, regular: BoolArray, masks: dict[str, BoolArray]
) -> dict[str, Any]:
    """The longer response's win share, and P(the response shown first wins) against its length
    minus the other's: each comparison is turned to the labeler's display order
    (`shown_first_sign`, the order the position effect uses); one without a recorded order
    keeps the stored order (A first) and is counted in `unordered`."""
    item = inp.item[comp.judgment]
    sign = shown_first_sign(inp, comp)
    turn = sign < 0
    diff = inp.slot_length[item, comp.first] - inp.slot_length[item, comp.second]
    diff = np.where(turn, -diff, diff)
    comp = Comparisons(comp.judgment, comp.first, comp.second,
                       np.where(turn, 1 - comp.score, comp.score), comp.weight)  # fmt: skip
    decided = (comp.score != 0.5) & ~np.isnan(diff)
    groups: dict[str, Any] = {}
    out: dict[str, Any] = {"unit": LENGTH_UNIT, "all": None, "groups": groups}
    for name, mask in {"": regular, **masks}.items():
        keep = decided & mask[comp.judgment]
        figures = _length_effect(diff[keep], comp.score[keep], comp.weight[keep], curve=not name)
        figures["unordered"] = int((keep & (sign == 0)).sum())
        if name:
            groups[name] = figures
        else:
            out["all"] = figures
    return out


def shown_first_sign(inp: ReportInput, comp: Comparisons) -> IntArray:
    """Per comparison: +1 when its first response (canonical order) was shown before its
    second, -1 when after, 0 when the display order is unknown. Pairwise: the side shown first
    (`first_shown`, from Judgment.display_order[0], as in `position_effect`); ranking: the two
    positions' places in the recorded display order (`shown_order`)."""
    if inp.kind == PAIRWISE or inp.shown_order is None:
        shown = inp.first_shown[comp.judgment]
        return np.where(shown == comp.first, 1, np.where(shown == comp.second, -1, 0))
    order = inp.shown_order[comp.judgment]  # comparisons x K positions as displayed
    slot = np.arange(order.shape[1])[None, :]
    big = order.shape[1]
    at_first = np.where(order == comp.first[:, None], slot, big).min(axis=1)
    at_second = np.where(order == comp.second[:, None], slot, big).min(axis=1)
    known = (at_first < big) & (at_second < big)
    return np.where(known, np.where(at_first < at_second, 1, -1), 0).astype(np.int64)


def _length_effect(
    diff: FloatArray, won: FloatArray, weight: FloatArray, curve: bool
) -> dict[str, Any]:
    differs = diff != 0
    longer_won = np.where(diff > 0, won, 1 - won)[differs]
    out: dict[str, Any] = {
        "comparisons": int(diff.size),
        "longer_wins": float(np.average(longer_won, weights=weight[differs]))
        if differs.any()
        else None,
        "longer_wins_n": int(differs.sum()),
    }
    if diff.size < 10 or np.ptp(diff) == 0 or np.ptp(won) == 0:  # nothing to fit
        return {
            **out,
            "slope": None,
            "slope_low": None,
            "slope_high": None,
            "intercept": None,
            "curve": [],
            "bins": [],
        }
    fit = ag.logistic_fit_1d(diff / LENGTH_UNIT, won, weight, ridge=RIDGE)
    intercept, slope, slope_se = float(fit.coef[0]), float(fit.coef[1]), float(fit.se[1])
    out.update(
        slope=slope,
        slope_low=slope - 1.96 * slope_se,
        slope_high=slope + 1.96 * slope_se,
        intercept=intercept,
    )
    if curve:
        lo, hi = np.quantile(diff, [0.02, 0.98])
        grid = np.linspace(lo, hi, 41)
        out["curve"] = np.c_[
            grid, 1 / (1 + np.exp(-(intercept + slope * grid / LENGTH_UNIT)))
        ].tolist()
        edges = np.unique(np.quantile(diff, np.linspace(0, 1, 11)))
        which = np.clip(np.searchsorted(edges, diff, side="right") - 1, 0, max(edges.size - 2, 0))
        n = np.bincount(which, weight)
        mean_x = np.bincount(which, weight * diff) / np.maximum(n, 1e-12)
        rate = np.bincount(which, weight * won) / np.maximum(n, 1e-12)
        count = np.bincount(which)
        out["bins"] = [[x, r, int(c)] for x, r, c in zip(mean_x, rate, count, strict=True) if c]
    return out
