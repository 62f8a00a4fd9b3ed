"""What the dashboard shows, built from a cached report payload: chart geometry and table
rows with formatted numbers. No Django, no database; cheap enough for every page view."""

from __future__ import annotations

from typing import Any

from annotation.reports import charts
from annotation.reports.summary import summary, visible_groups

ALL = "All labelers"
IMPORTED = "Imported judgments"


def estimate(e: dict[str, Any] | None, digits: int = 2) -> str:
    """'0.67 [0.56, 0.78]' (value and CI), or '—'."""
    if not e or e.get("value") is None:
        return "—"
    if e.get("low") is None:
        return f"{e['value']:.{digits}f}"
    return f"{e['value']:.{digits}f} [{e['low']:.{digits}f}, {e['high']:.{digits}f}]"


def number(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def share(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


def dashboard(
    payload: dict[str, Any], minimum: int = 0, snippets: dict[int, str] | None = None
) -> dict[str, Any]:
    """`minimum`: the minimum group size now (a cached report may predate a stricter one);
    `snippets`: item id -> the start of its prompt, for the contested items."""
    names = visible_groups(payload, minimum)
    agreement = payload["agreement"]
    snippets = snippets or {}
    return {
        "summary": summary(payload, minimum, snippets),
        "groups": [g for g in payload["groups"] if g["name"] in names],
        "group_names": names,
        "agreement_rows": [_agreement_row(ALL, agreement["all"])]
        + [_agreement_row(n, agreement["groups"][n]) for n in names],
        "chance_rows": [_chance_row(ALL, agreement["all"])]
        + [_chance_row(n, agreement["groups"][n]) for n in names],
        "position": _position(payload["preferences"].get("position")),
        "heatmap": charts.heatmap(names, *_between_matrices(payload["between"], names))
        if len(names) >= 2
        else None,
        "between_rows": _between_rows(payload["between"], names),
        "between_alpha": number(payload["between"]["alpha"]),
        **_preferences(payload["preferences"], names),
        "has_judgments": payload["totals"]["judgments"] > 0,
        "contested": [
            _contested_row(r, payload["vote_labels"], snippets)
            for r in payload["contested"]["items"]
            if r["significant"] and _shown(r, names)
        ],
        "divergent": [
            _contested_row(r, payload["vote_labels"], snippets)
            for r in payload["contested"]["items"]
            if not r["significant"] and _shown(r, names)
        ],
        **_length(payload["length_bias"], names),
        "criteria_rows": _criteria_rows(payload["criteria"], names),
        "labeler_rows": [_labeler_row(r) for r in payload["labelers"]],
        "scatter": charts.labeler_scatter(payload["labelers"])
        if any(r["agreement"] is not None and r["seconds_median"] for r in payload["labelers"])
        else None,
    }


def _agreement_row(name: str, a: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "judgments": a["judgments"],
        "items": a["items_multi"],
        "nominal": estimate(a["nominal"]),
        "ordinal": estimate(a.get("ordinal")),
        "interval": estimate(a.get("interval")),
        "percent": share(a["percent_agreement"]),
        "ac1": number(a["ac1"]),
        "fleiss": number(a["fleiss_kappa"]),
        "kendall_w": number((a.get("kendall_w") or {}).get("mean")),
    }


def _chance_row(name: str, a: dict[str, Any]) -> dict[str, Any]:
    """AC2 and Fleiss with p_o / p_e; Kendall's W both forms (reports built before these
    figures existed show dashes)."""
    ac2, fleiss, w = a.get("ac2") or {}, a.get("fleiss") or {}, a.get("kendall_w") or {}
    return {
        "name": name, "ac2": number(ac2.get("value")), "ac2_weights": ac2.get("weights", "—"),
        "ac2_p_o": number(ac2.get("p_o"), 3), "ac2_p_e": number(ac2.get("p_e"), 3),
        "fleiss": number(fleiss.get("value")), "fleiss_p_o": number(fleiss.get("p_o"), 3),
        "fleiss_p_e": number(fleiss.get("p_e"), 3),
        "fleiss_equal": _yes_no(fleiss.get("equal_raters")),
        "w": number(w.get("mean_uncorrected")), "w_corrected": number(w.get("mean")),
        "chi2": f"{number(w.get('chi2'), 1)} ({w['df']})" if w.get("df") else "—",
        "chi2_uncorrected": number(w.get("chi2_uncorrected"), 1), "p": p_value(w.get("p")),
        "p_uncorrected": p_value(w.get("p_uncorrected")),
    }  # fmt: skip


def _yes_no(flag: bool | None) -> str:
    return "—" if flag is None else ("yes" if flag else "no")


def p_value(p: float | None) -> str:
    return "—" if p is None else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def _position(pos: dict[str, Any] | None) -> dict[str, Any] | None:
    """Does the response shown first win: the share, and the fitted effect with its interval."""
    if not pos or not pos["comparisons"]:
        return None
    return {
        "comparisons": pos["comparisons"], "first_wins": share(pos["first_wins"]),
        "effect": estimate({"value": pos["effect"], "low": pos["low"], "high": pos["high"]}),
        "se": number(pos["se"], 3), "p": p_value(pos["p_value"]),
        "equal": estimate({"value": pos["first_wins_equal"], "low": pos["first_wins_low"],
                           "high": pos["first_wins_high"]}),
        "exact": pos["method"] == "exact", "fitted": pos["method"] is not None,
        "note": pos["note"],
        "biased": pos["low"] is not None and (pos["low"] > 0 or pos["high"] < 0),
        "direction": "more" if (pos["effect"] or 0) > 0 else "less",
    }  # fmt: skip


def _between_matrices(between: dict[str, Any], names: list[str]) -> tuple[Any, Any]:
    """The majority-agreement and items-compared matrices restricted to `names`."""
    at = [between["groups"].index(n) for n in names]
    return (
        [[between["majority_agreement"][i][j] for j in at] for i in at],
        [[between["items_compared"][i][j] for j in at] for i in at],
    )


def _between_rows(between: dict[str, Any], shown: list[str]) -> list[dict[str, Any]]:
    names = between["groups"]
    return [
        {
            "a": names[i], "b": names[j], "agreement": number(between["majority_agreement"][i][j]),
            "items": between["items_compared"][i][j], "alpha": number(between["pair_alpha"][i][j]),
        }
        for i in range(len(names))
        for j in range(i + 1, len(names))
        if names[i] in shown and names[j] in shown
    ]  # fmt: skip


def _shown(row: dict[str, Any], names: list[str]) -> bool:
    return all(s["group"] in names for s in row["sides"])


def _preferences(prefs: dict[str, Any], names: list[str]) -> dict[str, Any]:
    series = [(ALL, prefs["all"])] + [(n, prefs["groups"][n]) for n in names]
    if prefs.get("imported"):
        series.append((IMPORTED, prefs["imported"]))
    rows = []
    for m, model in enumerate(prefs["models"]):
        for name, f in series:
            count = _comparisons_of(f, m)
            if not count:  # no win rate without comparisons
                continue
            rows.append({
                "model": model, "group": name, "games": count,
                "rate": estimate({"value": f["win_rate"][m], "low": f["win_low"][m], "high": f["win_high"][m]}),
                "strength": estimate({"value": f["strength"][m], "low": f["strength_low"][m], "high": f["strength_high"][m]}),
            })  # fmt: skip
    has_data = any(f and f["comparisons"] for _, f in series)
    return {
        "bars": charts.preference_bars(prefs["models"], series) if has_data else None,
        "preference_rows": rows,
    }


def _comparisons_of(figures: dict[str, Any] | None, m: int) -> str:
    """How many comparisons model `m` took part in ('' for none). Reports cached before the
    unweighted counts existed only have weighted games (a ranking pair weighs 1/C(K, 2))."""
    if not figures:
        return ""
    if "counts" in figures:
        return str(figures["counts"][m]) if figures["counts"][m] else ""
    games = figures["games"][m] or 0
    return "" if games <= 0 else f"{games:.2f} (weighted)"


def _contested_row(
    r: dict[str, Any], labels: list[str], snippets: dict[int, str]
) -> dict[str, Any]:
    return {
        "item_id": r["item_id"], "snippet": snippets.get(r["item_id"], ""), "jsd": number(r["jsd"]), "p": f"{r['p_value']:.2g}",
        "q": f"{r['q_value']:.2g}", "significant": r["significant"],
        "sides": [
            {"group": s["group"], "majority": s["majority"] or "no majority",
             "votes": ", ".join(f"{label} {n}" for label, n in zip(labels, s["votes"], strict=True) if n)}
            for s in r["sides"]
        ],
    }  # fmt: skip


def _length(bias: dict[str, Any], names: list[str]) -> dict[str, Any]:
    overall = bias["all"] or {}
    rows = [(ALL, overall)] + [(n, bias["groups"].get(n) or {}) for n in names]
    if bias.get("imported"):
        rows.append((IMPORTED, bias["imported"]))
    slope, low, high = overall.get("slope"), overall.get("slope_low"), overall.get("slope_high")
    return {
        "length_curve": charts.length_curve(bias["all"] or bias.get("imported"), bias["unit"]),
        "length_unit": int(bias["unit"]),
        "length_warning": [
            {"who": name, "longer_wins": share(f["longer_wins"]), "prefers": "longer" if f["longer_wins"] > 0.5 else "shorter"}
            for name, f in rows
            if name in (ALL, IMPORTED) and _length_biased(f)
        ],
        "longer_wins": share(overall.get("longer_wins")),
        "length_unordered": overall.get("unordered") or 0,
        "length_comparisons": overall.get("comparisons") or 0,
        "length_slope": estimate({"value": slope, "low": low, "high": high}, 3),
        "length_rows": [
            {"group": n, "longer_wins": share(f.get("longer_wins")), "n": f.get("longer_wins_n", 0),
             "slope": estimate({"value": f.get("slope"), "low": f.get("slope_low"), "high": f.get("slope_high")}, 3)}
            for n, f in rows
        ],
    }  # fmt: skip


def _length_biased(f: dict[str, Any]) -> bool:
    """The longer response wins at least 55% (or at most 45%) and the fitted slope's 95%
    interval excludes 0."""
    rate, low, high = f.get("longer_wins"), f.get("slope_low"), f.get("slope_high")
    if rate is None or low is None or high is None:
        return False
    return abs(rate - 0.5) >= 0.05 and (low > 0 or high < 0)


def _criteria_rows(criteria: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    rows = []
    for c in criteria:
        for name, block in [(ALL, c["all"])] + [(n, c["groups"].get(n)) for n in names]:
            if block and block["ratings"]:
                rows.append({
                    "criterion": c["name"], "group": name, "ratings": block["ratings"],
                    "ordinal": estimate(block["ordinal"]), "interval": estimate(block["interval"]),
                })  # fmt: skip
    return rows


def _labeler_row(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "pseudonym": r["pseudonym"], "judgments": r["judgments"], "agreement": share(r["agreement"]),
        "agreement_group": share(r["agreement_group"]), "seconds": number(r["seconds_median"], 0),
        "kappa": number(r.get("kappa")), "kappa_p_e": number(r.get("kappa_p_e"), 3),
        "same": share(r["same_answer_share"]), "first": share(r["first_shown_share"]),
        "gold": f"{share(r['gold_accuracy'])} of {r['gold_judged']}" if r["gold_judged"] else "—",
        "screening": f"{share(r['screening_accuracy'])} of {r['screening_judged']}" if r["screening_judged"] else "—",
        "screened": r["screened"], "flags": r["flags"],
    }  # fmt: skip
