"""Labeler quality: agreement with the leave-one-out consensus of all and of one's own
groups (and Cohen's kappa against the consensus of all: p_o is that agreement, p_e the chance
agreement from the labeler's and the consensus's vote shares), speed, straight-lining, gold and
screening accuracy. Group membership never shows."""

from __future__ import annotations

from math import isfinite
from typing import Any

import numpy as np

from annotation import agreement as ag
from annotation.reports.inputs import (
    GOLD,
    PAIRWISE,
    SCREENING,
    VOTE_A,
    VOTE_B,
    BoolArray,
    FloatArray,
    IntArray,
    ReportConfig,
    ReportInput,
    majority,
    n_votes,
)


def loo_consensus(item: IntArray, vote: IntArray, n_items: int, n_votes: int) -> IntArray:
    """Per judgment: the unique plurality of the *other* votes on its item, -1 if none."""
    flat = np.bincount(item * n_votes + vote, minlength=n_items * n_votes)
    others = flat.reshape(n_items, n_votes)[item].astype(np.float64)
    others[np.arange(item.size), vote] -= 1
    return majority(others)


def loo_agreement(
    item: IntArray, vote: IntArray, n_items: int, n_votes: int
) -> tuple[BoolArray, BoolArray]:
    """Per judgment: (comparable, agrees) with the leave-one-out consensus."""
    consensus = loo_consensus(item, vote, n_items, n_votes)
    return consensus >= 0, consensus == vote


def consensus_kappa(
    who: IntArray, vote: IntArray, consensus: IntArray, n: int, c: int
) -> tuple[FloatArray, FloatArray]:
    """Per labeler: Cohen's kappa between their votes and the consensus, and its p_e (p_o is
    the agreement share). nan without a comparable judgment."""
    flat = np.bincount((who * c + vote) * c + consensus, minlength=n * c * c)
    tables = flat.reshape(n, c, c)
    kappa, p_e = np.full(n, np.nan), np.full(n, np.nan)
    for labeler in np.flatnonzero(tables.sum(axis=(1, 2))):
        result = ag.cohen_agreement(tables[labeler])
        kappa[labeler], p_e[labeler] = result.value, result.p_e
    return kappa, p_e


def labeler_quality(
    inp: ReportInput, regular: BoolArray, cfg: ReportConfig
) -> list[dict[str, Any]]:
    n = len(inp.labelers)
    voted = regular & (inp.vote >= 0)
    item, vote, who = inp.item[voted], inp.vote[voted], inp.labeler[voted]
    consensus = loo_consensus(item, vote, inp.item_ids.size, n_votes(inp))
    comparable, agrees = consensus >= 0, consensus == vote
    overall = rate_by(who[comparable], agrees[comparable], n)
    kappa, kappa_p_e = consensus_kappa(
        who[comparable], vote[comparable], consensus[comparable], n, n_votes(inp)
    )
    in_group = np.full(n, np.nan)
    for name, members in inp.groups.items():
        mine = inp.group_mask(name)[voted]
        c, a = loo_agreement(item[mine], vote[mine], inp.item_ids.size, n_votes(inp))
        rate, _ = rate_by(who[mine][c], a[c], n)
        in_group = np.fmax(in_group, np.where(members, rate, np.nan))
    median_seconds = _median_by(inp.labeler, inp.seconds, n)
    typical = (
        float(np.nanmedian(median_seconds)) if np.isfinite(median_seconds).any() else float("nan")
    )
    same, first = _straight_lining(inp, n)
    gold = _accuracy(inp, GOLD, n)
    screening = _accuracy(inp, SCREENING, n)
    judgments = np.bincount(inp.labeler, None, n)
    rows = []
    for index in np.argsort(inp.labelers):
        row = {
            "pseudonym": inp.labelers[index], "judgments": int(judgments[index]),
            "comparable": int(overall[1][index]), "agreement": overall[0][index], "agreement_group": in_group[index],
            "kappa": kappa[index], "kappa_p_e": kappa_p_e[index],
            "seconds_median": median_seconds[index], "same_answer_share": same[index], "first_shown_share": first[index],
            "gold_accuracy": gold[0][index], "gold_judged": int(gold[1][index]),
            "screening_accuracy": screening[0][index], "screening_judged": int(screening[1][index]),
            "screened": bool(inp.screened[index]) if inp.screened is not None else None,
        }  # fmt: skip
        if row["judgments"]:
            row["flags"] = _flags(row, typical, cfg)
            rows.append(row)
    return rows


def _flags(row: dict[str, Any], typical: float, cfg: ReportConfig) -> list[str]:
    flags = []
    low = cfg.low_agreement

    def below(x: float) -> bool:
        return isfinite(x) and x < low

    if (
        row["comparable"] >= cfg.min_comparable
        and below(row["agreement"])
        and (not isfinite(row["agreement_group"]) or below(row["agreement_group"]))
    ):
        flags.append("low agreement")
    enough = row["judgments"] >= cfg.min_comparable
    side = row["first_shown_share"]
    if enough and row["same_answer_share"] >= cfg.straight_line_share:
        flags.append("straight-lining")
    elif (
        enough
        and isfinite(side)
        and not (1 - cfg.straight_line_share < side < cfg.straight_line_share)
    ):
        flags.append("side bias")
    if row["gold_judged"] >= cfg.min_gold and row["gold_accuracy"] < cfg.gold_threshold:
        flags.append("gold")
    if (
        isfinite(row["seconds_median"])
        and isfinite(typical)
        and row["seconds_median"] < cfg.fast_ratio * typical
    ):
        flags.append("fast")
    return flags


def rate_by(who: IntArray, hits: BoolArray, n: int) -> tuple[FloatArray, FloatArray]:
    total = np.bincount(who, None, n).astype(np.float64)
    good = np.bincount(who, hits.astype(np.float64), n)
    return np.divide(good, total, out=np.full(n, np.nan), where=total > 0), total


def _median_by(who: IntArray, value: FloatArray, n: int) -> FloatArray:
    keep = ~np.isnan(value)
    who, value = who[keep], value[keep]
    order = np.lexsort((value, who))
    who, value = who[order], value[order]
    counts = np.bincount(who, None, n)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.full(n, np.nan)
    has = counts > 0
    low = start[has] + (counts[has] - 1) // 2
    high = start[has] + counts[has] // 2
    out[has] = (value[low] + value[high]) / 2
    return out


def _straight_lining(inp: ReportInput, n: int) -> tuple[FloatArray, FloatArray]:
    """Per labeler: share of their most common answer as displayed, and of picking the
    response shown first (pairwise: among A/B verdicts; ranking: ranked it best)."""
    known = inp.first_shown >= 0
    if inp.kind == PAIRWISE:
        shown_scale = np.where(inp.first_shown == 1, 9 - inp.scale, inp.scale)
        on_scale = np.isin(inp.vote, [VOTE_A, VOTE_B]) & ~np.isnan(inp.scale)
        answer = np.where(on_scale, np.nan_to_num(shown_scale), 9 + inp.vote).astype(np.int64)
        decided = known & np.isin(inp.vote, [VOTE_A, VOTE_B])
    else:
        answer = _shown_ranking(inp)
        decided = known & (inp.vote >= 0) & (inp.vote < inp.k)
    ok = (answer >= 0) & (inp.vote >= 0)
    c = int(answer[ok].max(initial=0)) + 1
    table = np.bincount(inp.labeler[ok] * c + answer[ok], minlength=n * c).reshape(n, c)
    totals = table.sum(axis=1)
    same = np.divide(table.max(axis=1), totals, out=np.full(n, np.nan), where=totals > 0)
    first, _ = rate_by(inp.labeler[decided], inp.vote[decided] == inp.first_shown[decided], n)
    return same, first


def _shown_ranking(inp: ReportInput) -> IntArray:
    """Ranking: an id per distinct ranking *as displayed* (ranks read in display order),
    -1 where the display order is unknown."""
    if inp.shown_order is None or inp.ranks.shape[0] == 0:
        return np.full(inp.item.size, -1, dtype=np.int64)
    order = inp.shown_order
    known = (order >= 0).sum(axis=1) == (~np.isnan(inp.ranks)).sum(axis=1)
    shown = np.take_along_axis(inp.ranks, np.maximum(order, 0), axis=1)
    shown = np.where(order >= 0, shown, 0.0)
    _, ids = np.unique(np.nan_to_num(shown, nan=0.0), axis=0, return_inverse=True)
    return np.where(known & (inp.first_shown >= 0), ids.ravel(), -1).astype(np.int64)


def _accuracy(inp: ReportInput, purpose: int, n: int) -> tuple[FloatArray, FloatArray]:
    gold = inp.item_gold[inp.item]
    keep = (inp.item_purpose[inp.item] == purpose) & (gold >= 0)
    return rate_by(inp.labeler[keep], inp.vote[keep] == gold[keep], n)
