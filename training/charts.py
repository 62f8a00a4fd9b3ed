"""Geometry for the server-rendered SVG charts of a run page: line charts and a heatmap.

Pure Python: numbers in, coordinates and colours out; templates/training/_charts.html draws them.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

PALETTE = ("#2f5bd3", "#d94f2b", "#067647", "#8e44ad", "#b7791f", "#0e7490")
Series = list[tuple[int, float]]
# Smoothing factors of per-batch curves the run page offers (an exponential moving average,
# 0 = raw); the default reads like W&B's and TensorBoard's default view.
SMOOTHING_CHOICES = (0.0, 0.6, 0.8, 0.9, 0.95, 0.99)
SMOOTHING_DEFAULT = 0.6


def ema(values: Sequence[float], factor: float) -> list[float]:
    """Debiased exponential moving average (TensorBoard's smoothing): s_t = factor * s_(t-1) +
    (1 - factor) * v_t, divided by 1 - factor^t so the first points are not pulled to 0.

    >>> [round(v, 3) for v in ema([1.0, 3.0], 0.5)]
    [1.0, 2.333]
    """
    smoothed, last = [], 0.0
    for t, value in enumerate(values, start=1):
        last = factor * last + (1 - factor) * value
        smoothed.append(last / (1 - factor**t) if factor else value)
    return smoothed


def smoothing_parse(text: str | None) -> float:
    """A smoothing factor from a query string: one of SMOOTHING_CHOICES (ValueError if not);
    none given -> SMOOTHING_DEFAULT."""
    if text in (None, ""):
        return SMOOTHING_DEFAULT
    value = float(text)  # type: ignore[arg-type]
    if value not in SMOOTHING_CHOICES:
        raise ValueError(f"must be one of {', '.join(map(str, SMOOTHING_CHOICES))}")
    return value


@dataclass
class Line:
    name: str
    color: str
    points: str  # "x,y x,y ..." for <polyline> (smoothed, when `raw` is set)
    last: float
    dots: list[tuple[float, float]] = field(default_factory=list)  # a series of one point
    raw: str = ""  # the unsmoothed points of a smoothed line, drawn faint behind it


@dataclass
class LineChart:
    title: str
    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    lines: list[Line]
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    smoothing: float = 0.0  # the factor of its smoothed lines


def downsample(points: Series, limit: int) -> Series:
    """At most `limit` points, evenly spaced, always keeping the last one."""
    if len(points) <= limit:
        return points
    stride = len(points) / (limit - 1)
    return [points[int(i * stride)] for i in range(limit - 1)] + [points[-1]]


def nice_ticks(low: float, high: float, count: int = 5, integer: bool = False) -> list[float]:
    """Round tick values covering [low, high] (whole numbers only, if `integer`)."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(1, count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10)
    step = next(m * magnitude for m in steps if m * magnitude >= raw)
    step = max(step, 1) if integer else step
    start = math.floor(low / step) * step
    return [start + i * step for i in range(int(math.ceil((high - start) / step)) + 1)]


def _label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000 or abs(value) < 0.01:
        return f"{value:.1e}"
    return f"{value:.3g}"


def line_chart(
    title: str,
    series: dict[str, Series],
    width: int = 560,
    height: int = 240,
    smoothed: Collection[str] = (),
    smoothing: float = 0.0,
) -> LineChart | None:
    """Lines for each named series of (step, value); None when there is nothing to draw. The
    series named in `smoothed` are drawn as their EMA (`smoothing`) over the raw line, faint;
    the axes fit the raw values."""
    series = {name: points for name, points in series.items() if points}
    if not series:
        return None
    left, top, right, bottom = 56, 12, width - 12, height - 52
    xs = [x for points in series.values() for x, _ in points]
    ys = [y for points in series.values() for _, y in points]
    x_ticks = nice_ticks(min(xs), max(xs), integer=True) if max(xs) > min(xs) else [min(xs)]
    y_ticks = nice_ticks(min(ys), max(ys))
    x0, x1 = min(x_ticks[0], min(xs)), max(x_ticks[-1], max(xs), x_ticks[0] + 1)
    y0, y1 = y_ticks[0], y_ticks[-1]

    def px(x: float) -> float:
        return round(left + (x - x0) / (x1 - x0) * (right - left), 1)

    def py(y: float) -> float:
        return round(bottom - (y - y0) / (y1 - y0) * (bottom - top), 1)

    def polyline(points: Series) -> str:
        return " ".join(f"{px(x)},{py(y)}" for x, y in points)

    lines = []
    for i, (name, points) in enumerate(sorted(series.items())):
        smooth = name in smoothed and smoothing > 0 and len(points) > 2
        shown = list(
            zip([x for x, _ in points], ema([y for _, y in points], smoothing), strict=True)
        )
        lines.append(
            Line(
                name=name,
                color=PALETTE[i % len(PALETTE)],
                points=polyline(shown if smooth else points),
                last=points[-1][1],
                dots=[(px(x), py(y)) for x, y in points] if len(points) == 1 else [],
                raw=polyline(points) if smooth else "",
            )
        )
    return LineChart(
        title=title, width=width, height=height, left=left, top=top, right=right, bottom=bottom, lines=lines,
        x_ticks=[(px(x), _label(x)) for x in x_ticks if x0 <= x <= x1],
        y_ticks=[(py(y), _label(y)) for y in y_ticks],
        smoothing=smoothing if any(line.raw for line in lines) else 0.0,
    )  # fmt: skip


def _blend(rgb: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    r, g, b = (round(255 + (c - 255) * t) for c in rgb)
    return r, g, b


def _heat_rgb(value: float) -> tuple[int, int, int]:
    """White at 0.5 (chance), to blue at 1, to orange at 0."""
    if value >= 0.5:
        return _blend((47, 91, 211), min(1.0, (value - 0.5) / 0.5))
    return _blend((217, 119, 6), min(1.0, (0.5 - value) / 0.5))


def heat_color(value: float | None) -> str:
    if value is None:
        return "#eef0f3"
    return "#{:02x}{:02x}{:02x}".format(*_heat_rgb(value))


def text_color(value: float | None) -> str:
    """Dark text on light cells, white on dark ones (by relative luminance, WCAG)."""
    if value is None:
        return "#1d2330"

    def linear(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in _heat_rgb(value))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#ffffff" if luminance < 0.21 else "#1d2330"  # whichever contrasts more
