"""The report in plain words: a few sentences generated from the cached figures, and notes
beside metrics that seem to disagree. No Django, no database.

Only groups the reader may see are named: a group with fewer labelers than the minimum
(annotation.privacy, CHORUS_MIN_GROUP_SIZE) is never mentioned, even if a cached report from
before a stricter minimum still holds its figures.

The prevalence paradox (Feinstein & Cicchetti 1990, "High agreement but low kappa"): when
most votes fall in one category, chance agreement p_e is high, so alpha and kappa, which
subtract it, sit near 0 although labelers agree most of the time; Gwet's AC1 (whose chance
term shrinks as one category dominates) stays high. Flagged when alpha (nominal) < 0.2 while
the raw agreement is >= 70% and AC1 >= 0.5.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from annotation.privacy import small_groups

ALL = "all labelers"
PARADOX_ALPHA, PARADOX_AGREEMENT, PARADOX_AC1 = 0.2, 0.7, 0.5
SNIPPET = 90  # characters of a prompt quoted in a sentence


def visible_groups(payload: dict[str, Any], minimum: int) -> list[str]:
    """Names of the report's groups with at least `minimum` labelers, in report order."""
    sizes = {g["name"]: g["labelers"] for g in payload.get("groups", [])}
    hidden = small_groups(sizes, minimum)
    return [name for name in sizes if name not in hidden]


def summary(
    payload: dict[str, Any], minimum: int, snippets: dict[int, str] | None = None
) -> dict[str, list[str]]:
    """{"sentences": the report in a few plain sentences, "notes": explanations of metrics
    that seem to disagree}. `snippets`: item id -> the start of its prompt."""
    names = visible_groups(payload, minimum)
    sentences = [
        _overall(payload["agreement"]["all"]),
        *_between(payload, names, snippets or {}),
        _preference(payload),
        _length(payload["length_bias"], names),
        _position(payload["preferences"].get("position")),
        _flagged(payload.get("labelers", [])),
    ]
    return {"sentences": [s for s in sentences if s], "notes": metric_notes(payload, names)}


def _q(name: str) -> str:
    """A group's name in quotes: "Groups “45 and over” and “Under 30” agree" reads right."""
    return name if name == ALL else f"“{name}”"


def _pct(x: float) -> str:
    return f"{x:.0%}"


def _strength(alpha: float) -> str:
    if alpha < 0.2:
        return "little agreement beyond chance"
    if alpha < 0.4:
        return "weak agreement"
    if alpha < 0.667:
        return "moderate agreement, below the 0.667 usually asked for tentative conclusions"
    if alpha < 0.8:
        return "agreement good enough for tentative conclusions (0.667 to 0.8)"
    return "strong agreement (0.8 or more)"


def _alpha(block: dict[str, Any]) -> float | None:
    return (block.get("nominal") or {}).get("value")


def _overall(block: dict[str, Any]) -> str:
    percent, alpha = block.get("percent_agreement"), _alpha(block)
    if percent is None or alpha is None:
        return "Too few items have two or more labelers to measure agreement yet."
    return (
        f"Two labelers judging the same item give the same answer {_pct(percent)} of the time;"
        f" Krippendorff's α (nominal) is {alpha:.2f}: {_strength(alpha)}."
    )


def _between(payload: dict[str, Any], names: list[str], snippets: dict[int, str]) -> list[str]:
    between = payload["between"]
    index = {name: i for i, name in enumerate(between["groups"])}
    pairs = []
    for a, b in combinations(names, 2):
        i, j = index.get(a), index.get(b)
        if i is None or j is None:
            continue
        value, items = between["majority_agreement"][i][j], between["items_compared"][i][j]
        if value is not None and items:
            pairs.append((value, items, a, b))
    if not pairs:
        return []
    pairs.sort()
    value, items, a, b = pairs[0]
    lead = "Groups" if len(pairs) == 1 else "The groups that differ most,"
    out = [
        f"{lead} {_q(a)} and {_q(b)} agree on {_pct(value)} of items (their majority votes, over"
        f" {items} items judged by enough members of both)."
    ]
    if len(pairs) > 1:
        top = pairs[-1]
        out.append(f"{_q(top[2])} and {_q(top[3])} agree most: on {_pct(top[0])} of items.")
    worst = _most_contested(payload, {a, b}, set(names))
    if worst:
        out.append(_contested_sentence(worst, snippets))
    return out


def _most_contested(
    payload: dict[str, Any], pair: set[str], shown: set[str]
) -> dict[str, Any] | None:
    rows = [r for r in payload["contested"]["items"] if {s["group"] for s in r["sides"]} <= shown]
    rows.sort(key=lambda r: ({s["group"] for s in r["sides"]} != pair, not r["significant"]))
    return rows[0] if rows else None


def _contested_sentence(row: dict[str, Any], snippets: dict[int, str]) -> str:
    text = snippets.get(row["item_id"])
    quoted = f" (“{_cut(text)}”)" if text else ""
    sides = ", ".join(
        f"{_q(s['group'])} mostly chose {s['majority']}"
        if s["majority"]
        else f"{_q(s['group'])} split"
        for s in row["sides"]
    )
    caution = "" if row["significant"] else " (not significant on its own)"
    return f"They disagree most on item {row['item_id']}{quoted}: {sides}{caution}."


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET else text[: SNIPPET - 1].rstrip() + "…"


def _preference(payload: dict[str, Any]) -> str:
    prefs = payload["preferences"]
    figures = prefs.get("all") or prefs.get("imported")
    if not figures or not figures.get("comparisons"):
        return ""
    counts = figures.get("counts") or figures["games"]
    rated = [
        (rate, model, count)
        for model, rate, count in zip(prefs["models"], figures["win_rate"], counts, strict=True)
        if rate is not None and count
    ]
    if len(rated) < 2:
        return ""
    rate, model, count = max(rated)
    who = "labelers" if prefs.get("all") else "the imported judgments"
    return (
        f"Responses from {model} win most often: {_pct(rate)} of their {count:g}"
        f" comparisons across {who}."
    )


def _length(bias: dict[str, Any], names: list[str]) -> str:
    rows = [(ALL, bias.get("all"))] + [(n, (bias.get("groups") or {}).get(n)) for n in names]
    rated = [(abs(f["longer_wins"] - 0.5), n, f["longer_wins"]) for n, f in rows
             if f and f.get("longer_wins") is not None]  # fmt: skip
    if not rated:
        return ""
    _, who, rate = max(rated)
    where = "across all labelers" if who == ALL else f"for group {_q(who)}"
    if abs(rate - 0.5) < 0.05:
        return f"Length barely matters: the longer response wins {_pct(rate)} of the time."
    return f"The longer response wins {_pct(rate)} of the time {where}."


def _position(pos: dict[str, Any] | None) -> str:
    if not pos or not pos.get("comparisons") or pos.get("first_wins") is None:
        return ""
    low, high = pos.get("low"), pos.get("high")
    biased = low is not None and high is not None and (low > 0 or high < 0)
    verdict = "more than chance explains" if biased else "no clear position bias"
    return f"The response shown first wins {_pct(pos['first_wins'])} of comparisons: {verdict}."


def _flagged(labelers: list[dict[str, Any]]) -> str:
    flagged = [r for r in labelers if r.get("flags")]
    if not labelers:
        return ""
    if not flagged:
        return f"None of the {len(labelers)} labelers is flagged."
    return f"{len(flagged)} of {len(labelers)} labelers are flagged: see “Labeler quality”."


def metric_notes(payload: dict[str, Any], names: list[str]) -> list[str]:
    """Why two agreement figures seem to disagree, for all labelers and each shown group."""
    agreement = payload["agreement"]
    blocks = [(ALL, agreement["all"])] + [(n, agreement["groups"].get(n)) for n in names]
    notes = []
    for who, block in blocks:
        if block:
            notes += [n for n in (_paradox(who, block), _direction(who, block)) if n]
    return notes


def _paradox(who: str, block: dict[str, Any]) -> str:
    alpha, percent, ac1 = _alpha(block), block.get("percent_agreement"), block.get("ac1")
    if alpha is None or percent is None or ac1 is None:
        return ""
    if not (alpha < PARADOX_ALPHA and percent >= PARADOX_AGREEMENT and ac1 >= PARADOX_AC1):
        return ""
    p_e = (block.get("fleiss") or {}).get("p_e")
    chance = f" (chance agreement p_e = {p_e:.2f})" if p_e is not None else ""
    return (
        f"Prevalence paradox ({_q(who)}): α = {alpha:.2f} looks like no agreement, yet labelers give"
        f" the same answer {_pct(percent)} of the time and Gwet's AC1 is {ac1:.2f}. Most votes"
        f" fall in one category{chance}, so α and κ count most of that agreement as chance,"
        " while AC1 does not. Both are right about different things: labelers mostly agree,"
        " but on the rarer answers they agree little better than chance."
    )


def _direction(who: str, block: dict[str, Any]) -> str:
    nominal, ordinal = _alpha(block), (block.get("ordinal") or {}).get("value")
    if nominal is None or ordinal is None or ordinal - nominal < 0.2:
        return ""
    return (
        f"α ordinal ({ordinal:.2f}) is well above α nominal ({nominal:.2f}) for {_q(who)}:"
        " labelers mostly lean the same way but differ on how strongly (a slight preference"
        " against a tie counts as full disagreement in the nominal vote)."
    )
