"""annotation.reports.wins: comparison counts beside win rates, and the length bias read in
the order the labeler saw the responses."""

from __future__ import annotations

import numpy as np
import pytest

from annotation.reports import ReportConfig, build_report
from annotation.reports.dashboard import dashboard
from annotation.reports.wins import comparisons, shown_first_sign
from tests.annotation.reports.synth import ranking, replace, two_groups

FAST = ReportConfig(n_resamples=50, n_permutations=499)


def test_a_ranking_win_rate_comes_with_its_comparisons_counted():
    # One 4-way ranking, four sources: each pair weighs 1/C(4, 2) = 1/6, so the best source's
    # weighted games are 0.5, which the dashboard rounded to "0" beside "1.00 [1.00, 1.00]".
    one = ranking(n_items=1, n_labelers=1, k=4)
    inp = replace(one, slot_model=np.array([[0, 1, 2, 3]]), models=["m0", "m1", "m2", "m3"])
    report = build_report(inp, FAST)
    figures = report["preferences"]["all"]
    assert figures["counts"] == [3, 3, 3, 3]  # every source meets the three others once
    assert figures["games"][0] == pytest.approx(0.5)
    rows = {r["model"]: r for r in dashboard(report)["preference_rows"]}
    assert rows["m0"]["games"] == "3" and rows["m0"]["rate"] == "1.00 [1.00, 1.00]"
    assert all(r["games"] not in ("", "0") for r in dashboard(report)["preference_rows"])


def test_no_win_rate_row_without_comparisons():
    inp = replace(ranking(n_items=2, n_labelers=2), models=["m0", "m1", "m2", "unused"])
    report = build_report(inp, FAST)
    assert report["preferences"]["all"]["counts"][3] == 0
    assert "unused" not in {r["model"] for r in dashboard(report)["preference_rows"]}


def test_old_payloads_show_weighted_games_not_a_rounded_zero():
    one = ranking(n_items=1, n_labelers=1, k=4)
    inp = replace(one, slot_model=np.array([[0, 1, 2, 3]]), models=["m0", "m1", "m2", "m3"])
    report = build_report(inp, FAST)
    del report["preferences"]["all"]["counts"]
    rows = dashboard(report)["preference_rows"]
    assert rows[0]["games"] == "0.50 (weighted)"


def _shown_first_wins(share: float, first_shown_known: bool = True):
    """Pairwise judgments where the response shown first wins with probability `share`,
    lengths independent of who wins and of which side was shown first."""
    inp, _ = two_groups(n_items=80, contested=(), seed=5)
    rng = np.random.default_rng(5)
    first_shown = rng.integers(0, 2, inp.item.size)
    wins = rng.random(inp.item.size) < share
    vote = np.where(wins, first_shown, 1 - first_shown)
    lengths = rng.integers(100, 900, inp.slot_length.shape).astype(np.float64)
    return replace(
        inp, vote=vote, scale=np.where(vote == 0, 2.0, 7.0), slot_length=lengths,
        first_shown=first_shown if first_shown_known else np.full(vote.size, -1), criteria=[],
    )  # fmt: skip


def test_length_curve_is_the_chance_that_the_response_shown_first_wins():
    bias = build_report(_shown_first_wins(0.8), FAST)["length_bias"]["all"]
    assert bias["unordered"] == 0
    # P(shown first wins) is 0.8 whatever the lengths: the fitted intercept is logit(0.8) and
    # every bin sits near 0.8. In the stored A/B order it would sit near 0.5 (A is shown first
    # half the time).
    assert bias["intercept"] == pytest.approx(np.log(4), abs=0.3)
    assert abs(bias["slope"]) < 0.15
    assert np.mean([rate for _, rate, _ in bias["bins"]]) == pytest.approx(0.8, abs=0.06)
    assert bias["longer_wins"] == pytest.approx(0.5, abs=0.08)  # orientation-free


def test_length_bias_without_a_display_order_keeps_the_stored_order_and_says_so():
    inp = _shown_first_wins(0.8, first_shown_known=False)
    bias = build_report(inp, FAST)["length_bias"]["all"]
    assert bias["unordered"] == bias["comparisons"] > 0
    assert bias["intercept"] == pytest.approx(0.0, abs=0.3)  # A wins half the time


def test_shown_first_sign_for_rankings_reads_the_display_order():
    inp = ranking(n_items=1, n_labelers=2, k=4)
    shown = np.array([[2, 0, 3, 1], [-1, -1, -1, -1]])  # second judgment: order unknown
    inp = replace(inp, shown_order=shown, first_shown=shown[:, 0])
    comp = comparisons(inp)
    sign = {
        (int(j), int(p), int(q)): int(s)
        for j, p, q, s in zip(
            comp.judgment, comp.first, comp.second, shown_first_sign(inp, comp), strict=True
        )
    }
    assert sign[(0, 0, 1)] == 1  # 0 shown second, 1 shown fourth
    assert sign[(0, 0, 2)] == -1  # 2 shown first
    assert sign[(0, 1, 3)] == -1 and sign[(0, 2, 3)] == 1
    assert {s for (j, _, _), s in sign.items() if j == 1} == {0}
