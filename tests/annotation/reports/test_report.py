"""annotation.reports on synthetic arrays: contested items, groups, quality, biases."""

from __future__ import annotations

import json

import numpy as np
import pytest

from annotation import agreement as ag
from annotation.reports import ReportConfig, build_report
from annotation.reports.inputs import GOLD, VOTE_A, VOTE_B
from tests.annotation.reports.synth import ranking, replace, two_groups

FAST = ReportConfig(n_resamples=50, n_permutations=499)


def _labeler(report: dict, pseudonym: str) -> dict:
    return next(r for r in report["labelers"] if r["pseudonym"] == pseudonym)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_report_singles_out_exactly_the_contested_items_with_each_groups_side(seed):
    inp, contested = two_groups(seed=seed)
    report = build_report(inp, ReportConfig(seed=seed))
    found = [r for r in report["contested"]["items"] if r["significant"]]
    assert {r["item_id"] for r in found} == contested
    for row in found:
        sides = {s["group"]: s for s in row["sides"]}
        assert sides["north"]["majority"] == "A" and sides["north"]["mean"] < 4.5
        assert sides["south"]["majority"] == "B" and sides["south"]["mean"] > 4.5
        assert row["jsd"] == pytest.approx(1.0)
    assert report["contested"]["significant"] == len(contested)


def test_groups_disagree_only_on_the_contested_share():
    inp, contested = two_groups()
    between = build_report(inp, FAST)["between"]
    assert between["groups"] == ["north", "south"]
    expected = 1 - len(contested) / 40  # majorities differ exactly on the contested items
    assert between["majority_agreement"][0][1] == pytest.approx(expected, abs=0.03)
    assert between["items_compared"][0][1] == 40


def test_groups_below_the_minimum_size_are_not_shown_anywhere():
    inp, _ = two_groups(per_group=6)
    report = build_report(inp, replace_cfg(min_group_size=7))
    assert report["groups"] == [] and report["hidden_groups"] == 2
    assert report["contested"]["items"] == [] and report["agreement"]["groups"] == {}
    text = json.dumps(report)
    assert "north" not in text and "south" not in text


def replace_cfg(**changes: object) -> ReportConfig:
    from dataclasses import replace as _replace

    return _replace(FAST, **changes)


def test_agreement_figures_match_agreement_module():
    inp, _ = two_groups()
    report = build_report(inp, FAST)
    _, counts = ag.count_judgments(inp.item, inp.vote.astype(float), np.arange(4))
    assert report["agreement"]["all"]["nominal"]["value"] == pytest.approx(
        ag.alpha_from_counts(counts, np.arange(4), "nominal")
    )
    scale = ag.count_judgments(inp.item, inp.scale, [1, 2, 3, 4, 4.5, 5, 6, 7, 8])
    assert report["agreement"]["all"]["interval"]["value"] == pytest.approx(
        ag.alpha_from_counts(scale[1], scale[0], "interval")
    )
    assert report["agreement"]["all"]["percent_agreement"] == pytest.approx(
        ag.percent_agreement(counts)
    )
    group = report["agreement"]["groups"]["north"]
    assert (
        group["judgments"] == 40 * 6
        and group["nominal"]["value"] > report["agreement"]["all"]["nominal"]["value"]
    )


def test_a_labeler_who_sides_with_their_group_is_not_flagged_but_a_careless_one_is():
    contested = tuple(range(0, 40, 5)) + tuple(range(1, 40, 5)) + tuple(range(2, 40, 5))  # 24 of 40
    inp, _ = two_groups(per_group=8, south_size=5, contested=contested)  # south: the minority
    rng = np.random.default_rng(0)
    careless = inp.labeler == 0
    vote = np.where(careless, rng.integers(0, 4, inp.vote.size), inp.vote)
    scale = np.where(
        vote == VOTE_A, 2.0, np.where(vote == VOTE_B, 7.0, np.where(vote == 2, 4.5, np.nan))
    )
    report = build_report(replace(inp, vote=vote, scale=np.where(careless, scale, inp.scale)), FAST)
    for pseudonym in ("L-08", "L-11"):  # south labelers: outvoted on 24 of 40 items
        row = _labeler(report, pseudonym)
        assert row["agreement"] < 0.5 and row["agreement_group"] > 0.8
        assert "low agreement" not in row["flags"]
    careless_row = _labeler(report, "L-00")
    assert careless_row["agreement"] < 0.5 and careless_row["agreement_group"] < 0.5
    assert "low agreement" in careless_row["flags"]
    assert not any(
        "low agreement" in r["flags"] for r in report["labelers"] if r["pseudonym"] != "L-00"
    )


def test_straight_lining_and_gold_misses_are_flagged():
    inp, contested = two_groups()
    purpose = inp.item_purpose.copy()
    gold_items = np.array([i for i in range(30, 40) if i + 1000 not in contested])
    purpose[gold_items] = GOLD
    consensus = np.array([np.bincount(inp.vote[inp.item == i]).argmax() for i in range(40)])
    gold = np.where(np.isin(np.arange(40), gold_items), consensus, -1)
    vote, scale = inp.vote.copy(), inp.scale.copy()
    liner = inp.labeler == 2  # always "the first response shown is better", same strength
    vote[liner] = inp.first_shown[liner]
    scale[liner] = np.where(vote[liner] == VOTE_A, 2.0, 7.0)
    misses = (inp.labeler == 4) & np.isin(inp.item, gold_items)  # gets every gold item wrong
    vote[misses] = 1 - consensus[inp.item[misses]]
    scale[misses] = np.where(vote[misses] == VOTE_A, 2.0, 7.0)
    report = build_report(
        replace(inp, item_purpose=purpose, item_gold=gold, vote=vote, scale=scale), FAST
    )
    liner_row = _labeler(report, "L-02")
    assert liner_row["same_answer_share"] == 1.0 and liner_row["first_shown_share"] == 1.0
    assert "straight-lining" in liner_row["flags"]
    miss_row = _labeler(report, "L-04")
    assert (
        miss_row["gold_accuracy"] == 0.0
        and miss_row["gold_judged"] == gold_items.size
        and "gold" in miss_row["flags"]
    )
    assert "gold" not in _labeler(report, "L-05")["flags"]
    assert report["totals"]["regular_judgments"] == (40 - gold_items.size) * 12


def test_length_bias_is_measured_and_fitted():
    inp, _ = two_groups(n_items=200, contested=())
    rng = np.random.default_rng(5)
    longer_b = inp.slot_length[inp.item, 1] > inp.slot_length[inp.item, 0]
    wins_longer = rng.random(inp.item.size) < 0.8
    vote = np.where(wins_longer == longer_b, VOTE_B, VOTE_A)
    report = build_report(replace(inp, vote=vote, scale=np.where(vote == VOTE_A, 2.0, 7.0)), FAST)
    bias = report["length_bias"]["all"]
    assert bias["longer_wins"] == pytest.approx(0.8, abs=0.03)
    assert bias["slope"] > 0 and bias["slope_low"] > 0
    assert bias["curve"][0][1] < 0.5 < bias["curve"][-1][1]
    assert report["length_bias"]["groups"]["north"]["longer_wins"] == pytest.approx(0.8, abs=0.05)


def test_preferences_per_group_point_the_right_way():
    inp, _ = two_groups(n_items=60, contested=tuple(range(60)))  # north picks A, south B everywhere
    models = np.tile([0, 1], (60, 1))  # A is model-a, B is model-b
    report = build_report(replace(inp, slot_model=models), FAST)
    prefs = report["preferences"]
    north, south = prefs["groups"]["north"], prefs["groups"]["south"]
    assert north["win_rate"][0] == 1.0 and south["win_rate"][0] == 0.0
    assert (
        north["strength"][0] > north["strength"][1] and south["strength"][0] < south["strength"][1]
    )
    assert prefs["all"]["win_rate"][0] == pytest.approx(0.5)
    assert prefs["all"]["win_low"][0] <= 0.5 <= prefs["all"]["win_high"][0]
    assert prefs["all"]["games"][2] == 0 and prefs["all"]["win_rate"][2] is None


def test_overall_bradley_terry_matches_agreement_module():
    inp, _ = two_groups()
    report = build_report(inp, FAST)
    a, b = inp.slot_model[inp.item, 0], inp.slot_model[inp.item, 1]
    score = np.where(inp.vote == VOTE_A, 1.0, 0.0)
    differ = a != b
    expected = ag.bradley_terry(np.c_[a[differ], b[differ], score[differ]], 3)
    np.testing.assert_allclose(report["preferences"]["all"]["strength"], expected, atol=1e-6)


def test_ranking_projects_use_ranks_kendall_w_and_the_best_vote():
    inp = ranking()
    report = build_report(inp, FAST)
    block = report["agreement"]["all"]
    one_item = inp.ranks[inp.item == 0]
    assert block["kendall_w"]["mean"] == pytest.approx(ag.kendall_w(one_item))
    assert block["kendall_w"]["items"] == 20
    assert block["ordinal"]["value"] > 0.8
    assert report["vote_labels"] == ["A", "B", "C", "D", "tied best"]
    assert report["contested"]["items"] == []  # everyone ranks A best
    assert report["preferences"]["all"]["strength"][0] > report["preferences"]["all"]["strength"][2]
    json.dumps(report, allow_nan=False)


def test_criteria_get_alpha_per_criterion():
    inp, _ = two_groups()
    crit = build_report(inp, FAST)["criteria"][0]
    assert crit["name"] == "helpfulness" and crit["all"]["ratings"] == 2 * inp.item.size
    assert abs(crit["all"]["ordinal"]["value"]) < 0.1  # random ratings: no agreement
    assert set(crit["groups"]) == {"north", "south"}


def test_empty_project_gives_a_valid_report():
    inp, _ = two_groups()
    empty = np.zeros(0, dtype=np.int64)
    none = replace(
        inp, item=empty, labeler=empty, vote=empty, scale=np.zeros(0), ranks=np.zeros((0, 0)),
        seconds=np.zeros(0), first_shown=empty, criteria=[],
    )  # fmt: skip
    report = build_report(none, FAST)
    json.dumps(report, allow_nan=False)
    assert report["labelers"] == [] and report["agreement"]["all"]["nominal"]["value"] is None


def test_report_is_strict_json():
    inp, _ = two_groups()
    json.dumps(build_report(inp, FAST), allow_nan=False)


def test_ranking_straight_lining_is_read_in_display_order():
    inp = ranking()
    rng = np.random.default_rng(0)
    shown = np.array([rng.permutation(4) for _ in range(inp.item.size)])
    ranks, vote = inp.ranks.copy(), inp.vote.copy()
    liner = inp.labeler == 0  # ranks the responses in the order shown, every time
    for j in np.flatnonzero(liner):
        ranks[j, shown[j]] = [1, 2, 3, 4]
        vote[j] = shown[j, 0]
    report = build_report(
        replace(inp, ranks=ranks, vote=vote, shown_order=shown, first_shown=shown[:, 0]), FAST
    )
    liner_row = _labeler(report, "R-0")
    assert liner_row["same_answer_share"] == 1.0 and liner_row["first_shown_share"] == 1.0
    assert "straight-lining" in liner_row["flags"]
    steady = _labeler(report, "R-2")  # always ranks A best, whatever the display: not a pattern
    assert steady["same_answer_share"] < 0.5 and steady["flags"] == []
