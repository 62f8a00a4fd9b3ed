"""Agreement within and between groups, per criterion, and the most contested items."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np
from scipy import stats as _stats  # type: ignore[import-untyped, unused-ignore]

from annotation import agreement as ag
from annotation.reports.inputs import (
    PAIRWISE,
    SCALE_CATEGORIES,
    BoolArray,
    CriterionData,
    FloatArray,
    IntArray,
    ReportConfig,
    ReportInput,
    majority,
    response_units,
)


def _interval(est: ag.AlphaInterval) -> dict[str, Any]:
    return {"value": est.value, "low": est.low, "high": est.high, "units": est.units}


def _point(value: float, units: int) -> dict[str, Any]:
    return {"value": value, "low": None, "high": None, "units": units}


def _alpha(
    unit: IntArray,
    value: FloatArray,
    level: ag.Level,
    cfg: ReportConfig,
    rng: np.random.Generator,
    cats: FloatArray | None = None,
) -> dict[str, Any]:
    if unit.size == 0:
        return _point(float("nan"), 0)
    categories, table = ag.count_judgments(unit, value, cats)
    return _interval(
        ag.alpha_bootstrap(table, categories, level, cfg.n_resamples, cfg.confidence, rng)
    )


def agreement_block(
    inp: ReportInput,
    mask: BoolArray,
    votes: FloatArray,
    cfg: ReportConfig,
    rng: np.random.Generator,
) -> dict[str, Any]:
    judged = votes.sum(axis=1)
    out: dict[str, Any] = {
        "judgments": int(mask.sum()),
        "items": int((judged > 0).sum()),
        "items_multi": int((judged >= 2).sum()),
        "nominal": _interval(
            ag.alpha_bootstrap(
                votes, np.arange(votes.shape[1]), "nominal", cfg.n_resamples, cfg.confidence, rng
            )
        ),
        "percent_agreement": ag.percent_agreement(votes),
        "ac1": ag.gwet_ac1(votes) if judged.any() else None,
    }
    fleiss = _chance(ag.fleiss_kappa_missing, votes, None, "identity")
    out["fleiss_kappa"] = fleiss["value"] if fleiss else None
    out["fleiss"] = fleiss and {**fleiss, "equal_raters": bool(np.ptp(judged[judged > 0]) == 0)}
    if inp.kind == PAIRWISE:
        rated = mask & ~np.isnan(inp.scale)
        unit, value = inp.item[rated], inp.scale[rated]
        out["ordinal"] = _alpha(unit, value, "ordinal", cfg, rng, SCALE_CATEGORIES)
        out["interval"] = _alpha(unit, value, "interval", cfg, rng, SCALE_CATEGORIES)
        cats, table = ag.count_judgments(unit, value, SCALE_CATEGORIES)
    else:
        unit, value = response_units(inp, mask)
        out["ordinal"] = _alpha(unit, value, "ordinal", cfg, rng)
        out["kendall_w"] = _kendall(inp, mask)
        cats, table = ag.count_judgments(unit, value)
    out["ac2"] = _chance(ag.gwet_ac2, table, cats, AC2_WEIGHTS)
    return out


AC2_WEIGHTS: ag.WeightScheme = "quadratic"  # the scale (pairwise) or the ranks (ranking)


def _chance(
    coefficient: Callable[[FloatArray, FloatArray | None, ag.WeightScheme], ag.ChanceCorrected],
    table: FloatArray,
    cats: FloatArray | None,
    weights: ag.WeightScheme,
) -> dict[str, Any] | None:
    """{value, p_o, p_e, weights}, or None when nothing was rated or only one category."""
    if not table.size or not table.any() or table.shape[1] < 2:
        return None
    return asdict(coefficient(table, cats, weights))


def _kendall(inp: ReportInput, mask: BoolArray) -> dict[str, Any]:
    """Kendall's W per item over its complete rankings: the mean of both forms, and every
    item's chi2 = m (n - 1) W pooled into one test (agreement.kendall_w_units)."""
    w = ag.kendall_w_units(inp.item[mask], inp.ranks[mask], inp.item_ids.size)
    return {
        "mean": w.mean_w_corrected, "items": w.units, "mean_uncorrected": w.mean_w,
        "chi2": w.chi2_corrected, "chi2_uncorrected": w.chi2, "df": w.df,
        "p": w.p_corrected, "p_uncorrected": w.p,
    }  # fmt: skip


def criteria(
    inp: ReportInput,
    regular: BoolArray,
    masks: dict[str, BoolArray],
    cfg: ReportConfig,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """Alpha ordinal and interval of every rubric criterion, overall and per group."""
    return [
        {
            "name": crit.name,
            "all": _criterion_block(inp, crit, regular, cfg, rng),
            "groups": {
                name: _criterion_block(inp, crit, mask, cfg, rng) for name, mask in masks.items()
            },
        }
        for crit in inp.criteria
    ]


def _criterion_block(
    inp: ReportInput,
    crit: CriterionData,
    mask: BoolArray,
    cfg: ReportConfig,
    rng: np.random.Generator,
) -> dict[str, Any]:
    cats = np.arange(crit.scale_min, crit.scale_max + 1, dtype=np.float64)
    keep = mask[crit.judgment]
    unit = inp.item[crit.judgment[keep]] * inp.k + crit.position[keep]
    value = crit.value[keep]
    return {
        "ratings": int(keep.sum()),
        "ordinal": _alpha(unit, value, "ordinal", cfg, rng, cats),
        "interval": _alpha(unit, value, "interval", cfg, rng, cats),
    }


def between(
    inp: ReportInput,
    names: list[str],
    counts: dict[str, FloatArray],
    values: dict[str, tuple[FloatArray, FloatArray]],
    cfg: ReportConfig,
) -> dict[str, Any]:
    """Group x group: majority agreement, items compared, and alpha with groups as coders."""
    g = len(names)
    top = {name: majority(counts[name]) for name in names}
    enough = {name: counts[name].sum(axis=1) >= cfg.min_votes_per_group for name in names}
    agree = np.full((g, g), np.nan)
    compared = np.zeros((g, g), dtype=np.int64)
    means = np.full((g, inp.item_ids.size * (1 if inp.kind == PAIRWISE else inp.k)), np.nan)
    for a, name in enumerate(names):
        total, n = values[name]
        unit_item = np.arange(total.size) // (1 if inp.kind == PAIRWISE else inp.k)
        ok = (n >= cfg.min_votes_per_group) & enough[name][unit_item]
        means[a, ok] = total[ok] / n[ok]
        for b, other in enumerate(names):
            both = enough[name] & enough[other] & (top[name] >= 0) & (top[other] >= 0)
            compared[a, b] = int(both.sum())
            if both.any():
                agree[a, b] = float(np.mean(top[name][both] == top[other][both]))
    pair_alpha = np.full((g, g), np.nan)
    for a in range(g):
        for b in range(g):
            if a != b:
                pair_alpha[a, b] = _coders_alpha(means[[a, b]])
    return {
        "groups": names,
        "majority_agreement": agree.tolist(),
        "items_compared": compared.tolist(),
        "alpha": _coders_alpha(means) if g >= 2 else None,
        "pair_alpha": pair_alpha.tolist(),
    }


def _coders_alpha(values: FloatArray) -> float:
    """Interval alpha of a coders x units matrix of continuous values (nan = missing)."""
    unit = np.broadcast_to(np.arange(values.shape[1]), values.shape)
    return ag.interval_alpha(unit.ravel(), values.ravel())


def contested(
    inp: ReportInput,
    names: list[str],
    counts: dict[str, FloatArray],
    values: dict[str, tuple[FloatArray, FloatArray]],
    cfg: ReportConfig,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Items whose vote distributions differ most between two groups, most divergent first;
    `significant` ones (BH-adjusted p <= fdr over every compared item) are the contested."""
    found: list[tuple[FloatArray, IntArray, int, int]] = []
    compared = 0
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            ca, cb = counts[names[a]], counts[names[b]]
            ok = (ca.sum(axis=1) >= cfg.min_votes_per_group) & (
                cb.sum(axis=1) >= cfg.min_votes_per_group
            )
            compared += int(ok.sum())
            jsd = np.where(ok, np.nan_to_num(ag.jensen_shannon(ca, cb)), 0.0)
            items = np.flatnonzero(ok & (jsd >= cfg.min_jsd))
            found.append((jsd[items], items, a, b))
    jsd = np.concatenate([f[0] for f in found]) if found else np.zeros(0)
    item = np.concatenate([f[1] for f in found]) if found else np.zeros(0, dtype=np.int64)
    pair = np.concatenate([np.full(f[1].size, i) for i, f in enumerate(found)]) if found else item
    order = np.argsort(-jsd, kind="stable")[: cfg.max_tests]
    tests = [
        divergence_test(counts[names[found[pair[t]][2]]][item[t]], counts[names[found[pair[t]][3]]][item[t]], cfg, rng)
        for t in order
    ]  # fmt: skip
    q = ag.benjamini_hochberg([p for p, _ in tests], compared)
    rows: list[dict[str, Any]] = []
    for t, (p_value, method), q_value in zip(order, tests, q, strict=True):
        a, b = found[pair[t]][2], found[pair[t]][3]
        rows.append({
            "item_id": int(inp.item_ids[item[t]]), "jsd": float(jsd[t]), "p_value": p_value,
            "q_value": float(q_value), "significant": bool(q_value <= cfg.fdr), "method": method,
            "sides": [_side(inp, name, counts[name][item[t]], values[name], int(item[t])) for name in (names[a], names[b])],
        })  # fmt: skip
    rows.sort(key=lambda r: (not r["significant"], -float(r["jsd"])))
    return {
        "compared": compared,
        "tested": len(tests),
        "significant": sum(r["significant"] for r in rows),
        "items": rows[: cfg.max_listed],
    }


def divergence_test(
    a: FloatArray, b: FloatArray, cfg: ReportConfig, rng: np.random.Generator
) -> tuple[float, str]:
    """p-value that two groups' vote counts on one item come from the same distribution.

    Fisher's exact test when only two categories were used (the common A-vs-B case: exact,
    with no Monte Carlo floor on p); otherwise agreement.homogeneity_test (chi-square, or a
    permutation test when expected counts are small).
    """
    used = (a + b) > 0
    if used.sum() == 2:
        table = np.stack([a[used], b[used]]).astype(np.int64)
        return float(_stats.fisher_exact(table).pvalue), "fisher"
    test = ag.homogeneity_test(a, b, n_permutations=cfg.n_permutations, seed=rng)
    return test.p_value, test.method


def _side(
    inp: ReportInput,
    name: str,
    votes: FloatArray,
    values: tuple[FloatArray, FloatArray],
    item: int,
) -> dict[str, Any]:
    top = majority(votes[None, :])[0]
    return {
        "group": name,
        "votes": votes.astype(int).tolist(),
        "majority": inp.vote_labels[top] if top >= 0 else None,
        "mean": _item_mean(inp, values, item),
    }


def _item_mean(inp: ReportInput, values: tuple[FloatArray, FloatArray], item: int) -> Any:
    """Pairwise: the group's mean on the 8-point scale; ranking: mean rank per response."""
    total, n = values
    if inp.kind == PAIRWISE:
        return ag.SCALE_TIE - total[item] / n[item] if n[item] else None
    span = slice(item * inp.k, (item + 1) * inp.k)
    return np.divide(total[span], n[span], out=np.full(inp.k, np.nan), where=n[span] > 0).tolist()
