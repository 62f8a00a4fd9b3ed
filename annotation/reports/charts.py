"""Geometry for the dashboard's inline SVG charts, from the cached report. No Django.

Each function returns plain dicts (coordinates in the SVG's viewBox, colours, labels) that
templates/annotation/_report_charts.html turns into markup; the numbers also go to tables.
Colours are the Okabe-Ito palette (safe for colour-blind readers); flagged points differ
in shape too, not only in colour.
"""

from __future__ import annotations

import math
from typing import Any

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
FLAG = "#D55E00"
CHAR = 7.8  # generous width of a 12px label character, in viewBox units


def _round(x: float) -> float:
    return round(x, 1)


def _fmt(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _blend(t: float) -> str:
    """0 -> a pale blue, 1 -> a deep blue."""
    t = min(max(t, 0.0), 1.0)
    low, high = (0xF1, 0xF5, 0xFB), (0x08, 0x30, 0x6B)
    return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(low, high, strict=True))


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round tick values covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low] if math.isfinite(low) else []
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=raw)
    start = math.ceil(low / step) * step
    return [round(start + i * step, 10) for i in range(int((high - start) / step + 1e-9) + 1)]


def log_ticks(low: float, high: float) -> list[float]:
    """1-2-5 ticks between low and high (for a log axis); every decade if that is too many."""
    start, stop = math.floor(math.log10(low)), math.ceil(math.log10(high))
    steps = (1, 2, 5) if stop - start <= 2 else (1,)
    ticks = [m * 10**e for e in range(start, stop + 1) for m in steps]
    return [t for t in ticks if low <= t <= high * (1 + 1e-9)]


def heatmap(
    names: list[str], matrix: list[list[float | None]], compared: list[list[int]]
) -> dict[str, Any]:
    """Group x group agreement as large labelled cells (share and items compared), the
    diagonal (a group with itself) left blank, with a colour key below."""
    cell = 116
    longest = max((len(n) for n in names), default=4)
    left = longest * CHAR * 1.2 + 24
    slanted = longest * CHAR * 1.2 > cell - 8  # long names: column labels at 40 degrees
    top = round(longest * CHAR * 0.8) + 44 if slanted else 58
    values = [
        v for r, row in enumerate(matrix) for c, v in enumerate(row) if r != c and v is not None
    ]
    floor = min([0.5, *values])  # colours span [floor, 1]: agreement under 1/2 is rare

    cells = []
    for r, row in enumerate(matrix):
        for c, value in enumerate(row):
            blank = r == c or value is None
            value = 0.0 if value is None else value
            dark = not blank and value - floor > 0.45 * (1 - floor)
            cells.append({
                "x": _round(left + c * cell), "y": top + r * cell, "size": cell - 4,
                "fill": "#e5e7eb" if blank else _blend((value - floor) / (1 - floor + 1e-12)),
                "text": ("same group" if r == c else "not compared") if blank else f"{value:.0%}",
                "sub": "" if blank else f"{compared[r][c]} items",
                "blank": blank, "text_fill": "#ffffff" if dark else "#1d2330",
                "tx": _round(left + c * cell + (cell - 4) / 2), "ty": top + r * cell + (cell - 4) / 2 - (0 if blank else 8),
                "sy": top + r * cell + (cell - 4) / 2 + 16,
                "title": f"{names[r]} and {names[c]}: "
                + ("not compared" if blank else f"majorities agree on {value:.0%} of {compared[r][c]} items judged by enough members of both"),
            })  # fmt: skip
    bottom = top + len(names) * cell
    key_width = min(len(names) * cell - 4, 260)
    return {
        "width": _round(
            max(left + len(names) * cell + 8 + (longest * CHAR * 0.9 if slanted else 0), left + 300)
        ),
        "height": bottom + 64,
        "cells": cells,
        "rows": [
            {"x": _round(left - 10), "y": top + r * cell + cell / 2, "text": n}
            for r, n in enumerate(names)
        ],
        "cols": [
            {"x": _round(left + c * cell + cell / 2 - 2), "y": top - 12, "text": n}
            for c, n in enumerate(names)
        ],
        "slanted": slanted,
        "key": {
            "x": _round(left), "y": bottom + 14, "width": key_width, "height": 12,
            "low": f"{floor:.0%}", "high": "100%", "low_fill": _blend(0), "high_fill": _blend(1),
            "text_y": bottom + 42, "right": _round(left + key_width),
            "label": "colour: share of items where the majorities agree",
        },
    }  # fmt: skip


def preference_bars(models: list[str], series: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Win rate of each response source per group, bars with CI whiskers; 0.5 marked."""
    bar, gap = 14, 12
    left = max((len(m) for m in models), default=4) * CHAR + 16
    plot = 420
    band = len(series) * bar + gap
    legend, x, y = [], left, 14
    for i, (name, _) in enumerate(series):  # wrap the legend to the chart's width
        advance = 16 + len(name) * CHAR + 24
        if x + advance > left + plot + 24 and x > left:
            x, y = left, y + 18
        legend.append(
            {
                "x": _round(x),
                "tx": _round(x + 16),
                "y": y - 10,
                "ty": y,
                "fill": PALETTE[i % len(PALETTE)],
                "text": name,
            }
        )
        x += advance
    top = y + 14
    rows, bars = [], []
    for m, model in enumerate(models):
        y0 = top + m * band
        rows.append({"x": _round(left - 8), "y": _round(y0 + (band - gap) / 2), "text": model})
        for s, (name, figures) in enumerate(series):
            rate = figures["win_rate"][m] if figures else None
            if rate is None:
                continue
            low, high = figures["win_low"][m], figures["win_high"][m]
            y = y0 + s * bar
            bars.append(
                {
                    "x": left, "y": y, "w": _round(rate * plot), "h": bar - 3, "fill": PALETTE[s % len(PALETTE)],
                    "ci": None if low is None or high is None else {"x1": _round(left + low * plot), "x2": _round(left + high * plot), "y": _round(y + (bar - 3) / 2)},
                    "title": f"{model}, {name}: preferred in {rate:.0%} of comparisons (95% CI {_fmt(low)}–{_fmt(high)})",
                }
            )  # fmt: skip
    height = top + len(models) * band + 24
    ticks = [{"x": _round(left + t * plot), "label": f"{t:.2g}"} for t in (0, 0.25, 0.5, 0.75, 1.0)]
    return {
        "width": _round(left + plot + 24), "height": height, "left": left, "plot": plot, "top": top,
        "bottom": height - 24, "tick_y": height - 8, "half": _round(left + plot / 2), "rows": rows, "bars": bars,
        "ticks": ticks, "legend": legend,
    }  # fmt: skip


def labeler_scatter(labelers: list[dict[str, Any]]) -> dict[str, Any]:
    """Agreement with the consensus (y) against median seconds per judgment (x, log scale)."""
    left, top, plot_w, plot_h = 56, 30, 560, 300
    points = [r for r in labelers if r.get("agreement") is not None and r.get("seconds_median")]
    seconds = [max(r["seconds_median"], 0.1) for r in points]
    lo = math.log10(min(seconds)) if seconds else 0.0
    hi = math.log10(max(seconds)) if seconds else 2.0
    lo, hi = math.floor(lo * 2) / 2, math.ceil(hi * 2) / 2
    hi = hi if hi > lo else lo + 1

    def x_of(s: float) -> float:
        return _round(left + (math.log10(max(s, 0.1)) - lo) / (hi - lo) * plot_w)

    def y_of(a: float) -> float:
        return _round(top + (1 - a) * plot_h)

    marks = [
        {
            "x": x_of(r["seconds_median"]), "y": y_of(r["agreement"]), "flagged": bool(r["flags"]),
            "sx": _round(x_of(r["seconds_median"]) - 5), "sy": _round(y_of(r["agreement"]) - 5),
            "label": r["pseudonym"], "lx": _round(x_of(r["seconds_median"]) + 8), "ly": _round(y_of(r["agreement"]) - 7),
            "title": f"{r['pseudonym']}: agreement {r['agreement']:.2f}, median {r['seconds_median']:.0f} s"
            + (f" ({', '.join(r['flags'])})" if r["flags"] else ""),
        }
        for r in points
    ]  # fmt: skip
    _place_labels(marks)
    x_ticks = log_ticks(10**lo, 10**hi)
    return {
        "width": left + plot_w + 110, "height": top + plot_h + 44, "left": left, "top": top,
        "right": left + plot_w, "bottom": top + plot_h, "points": marks,
        "x_ticks": [{"x": x_of(t), "label": f"{t:g}"} for t in x_ticks],
        "y_ticks": [{"y": y_of(t), "label": f"{t:.2g}"} for t in (0, 0.25, 0.5, 0.75, 1.0)],
        "flag_color": FLAG, "color": PALETTE[0],
        "tick_x": left - 6, "tick_y": top + plot_h + 16, "title_y": top + plot_h + 36, "label_y": top - 16,
    }  # fmt: skip


def _place_labels(marks: list[dict[str, Any]]) -> None:
    """Keep a mark's pseudonym label only where it overlaps no label already kept (flagged
    marks first); the others still name themselves on hover (their <title>)."""
    kept: list[tuple[float, float, float, float]] = []
    for mark in sorted(marks, key=lambda m: not m["flagged"]):
        box = (mark["lx"], mark["ly"] - 10, mark["lx"] + len(mark["label"]) * 6.0, mark["ly"] + 2)
        if any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in kept):
            mark["label"] = ""
        else:
            kept.append(box)


def length_curve(figures: dict[str, Any] | None, unit: float) -> dict[str, Any] | None:
    """Fitted P(the response shown first wins) against its length minus the other's (see
    wins.length_bias), with binned rates."""
    if not figures or not figures.get("curve"):
        return None
    left, top, plot_w, plot_h = 56, 30, 460, 220
    xs = [p[0] for p in figures["curve"]] + [b[0] for b in figures["bins"]]
    lo, hi = min(xs), max(xs)
    hi = hi if hi > lo else lo + 1

    def x_of(d: float) -> float:
        return _round(left + (d - lo) / (hi - lo) * plot_w)

    def y_of(p: float) -> float:
        return _round(top + (1 - p) * plot_h)

    path = " ".join(
        f"{'M' if i == 0 else 'L'}{x_of(d)},{y_of(p)}" for i, (d, p) in enumerate(figures["curve"])
    )
    return {
        "width": left + plot_w + 20, "height": top + plot_h + 44, "left": left, "top": top,
        "right": left + plot_w, "bottom": top + plot_h, "path": path, "half": y_of(0.5),
        "zero": x_of(0.0) if lo <= 0 <= hi else None, "color": PALETTE[0], "dot": PALETTE[1],
        "bins": [
            {"x": x_of(d), "y": y_of(r), "title": f"length difference ≈ {d:.0f} chars: the response shown first won {r:.0%} of {n}"}
            for d, r, n in figures["bins"]
        ],
        "x_ticks": [{"x": x_of(t), "label": f"{t:g}"} for t in nice_ticks(lo, hi, 6)],
        "y_ticks": [{"y": y_of(t), "label": f"{t:.2g}"} for t in (0, 0.25, 0.5, 0.75, 1.0)],
        "unit": unit,
        "tick_x": left - 6, "tick_y": top + plot_h + 16, "title_y": top + plot_h + 36, "label_y": top - 16,
    }  # fmt: skip
