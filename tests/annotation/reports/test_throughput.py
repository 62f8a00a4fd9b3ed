"""The throughput chart's geometry (pure)."""

from datetime import UTC, datetime

from annotation.reports.throughput import throughput_chart

START = datetime(2026, 1, 1, 9, tzinfo=UTC)


def test_nothing_to_draw():
    assert throughput_chart(START, {}) is None
    assert throughput_chart(START, {"All labelers": [0, 0]}) is None


def test_lines_ticks_and_totals():
    chart = throughput_chart(START, {"All labelers": [7, 0, 3], "north": [4, 0, 1]})
    assert chart is not None
    assert [(line["name"], line["total"], line["peak"]) for line in chart["lines"]] == [
        ("All labelers", 10, 7), ("north", 5, 4),
    ]  # fmt: skip
    top_tick = float(chart["y_ticks"][-1][1])
    assert top_tick >= 7  # a tick above the busiest hour
    first = chart["lines"][0]["points"].split()
    x, y = (float(v) for v in first[0].split(","))
    expected = chart["bottom"] - 7 / top_tick * (chart["bottom"] - chart["top"])
    assert x == chart["left"] and abs(y - expected) < 0.1
    assert len(first) == 3 and chart["x_ticks"][0][1] == "01 Jan 09:00"


def test_one_hour_is_a_dot():
    chart = throughput_chart(START, {"All labelers": [2]})
    assert chart is not None and len(chart["lines"][0]["dots"]) == 1
