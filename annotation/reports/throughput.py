"""Geometry of the project page's throughput chart: judgments per hour, one line per group.

Pure (no Django): hourly counts in, SVG coordinates out; templates/annotation/
_project_throughput.html draws them. Ticks and colours are the report charts' (charts.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from annotation.reports.charts import PALETTE, nice_ticks


def throughput_chart(
    start: datetime, series: dict[str, list[int]], width: int = 720, height: int = 240
) -> dict[str, Any] | None:
    """`series`: line name -> judgments in each hour from `start` (every list as long).
    None when there is nothing to draw."""
    hours = max((len(counts) for counts in series.values()), default=0)
    if not hours or not any(any(counts) for counts in series.values()):
        return None
    left, top, right, bottom = 48, 12, width - 16, height - 40
    peak = max(max(counts) for counts in series.values())
    y_ticks = [t for t in nice_ticks(0, max(peak, 1), 5) if t == int(t)] or [0.0, 1.0]
    if len(y_ticks) > 1 and y_ticks[-1] < peak:  # a tick above the highest hour
        y_ticks.append(y_ticks[-1] + y_ticks[1] - y_ticks[0])
    y_top = max(y_ticks[-1], peak, 1)

    def px(hour: float) -> float:
        return round(left + hour / max(hours - 1, 1) * (right - left), 1)

    def py(value: float) -> float:
        return round(bottom - value / y_top * (bottom - top), 1)

    step = max(1, round(hours / 6))
    lines = [
        {
            "name": name,
            "color": PALETTE[i % len(PALETTE)],
            "points": " ".join(f"{px(h)},{py(n)}" for h, n in enumerate(counts)),
            "dots": [(px(0), py(counts[0]))] if len(counts) == 1 else [],
            "total": sum(counts),
            "peak": max(counts),
        }
        for i, (name, counts) in enumerate(series.items())
    ]
    return {
        "width": width, "height": height, "left": left, "top": top, "right": right,
        "bottom": bottom, "lines": lines, "hours": hours,
        "y_ticks": [(py(t), f"{t:g}") for t in y_ticks],
        "x_ticks": [
            (px(h), (start + timedelta(hours=h)).strftime("%d %b %H:00"))
            for h in range(0, hours, step)
        ],
    }  # fmt: skip
