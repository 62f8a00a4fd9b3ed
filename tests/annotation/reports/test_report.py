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


# --- chance-corrected coefficients, Kendall's W both forms, Cohen per labeler -------------


def test_ac2_and_fleiss_with_p_o_p_e_match_the_agreement_module_with_unequal_raters():
    inp, _ = two_groups()
    dropped = (inp.item % 3 == 0) & (inp.labeler == 1)  # items with 11 or 12 labelers
    inp = replace(
        inp, item=inp.item[~dropped], labeler=inp.labeler[~dropped], vote=inp.vote[~dropped],
        scale=inp.scale[~dropped], seconds=inp.seconds[~dropped],
        first_shown=inp.first_shown[~dropped], criteria=[],
    )  # fmt: skip
    block = build_report(inp, FAST)["agreement"]["all"]
    _, votes = ag.count_judgments(inp.item, inp.vote.astype(float), np.arange(4))
    fleiss = ag.fleiss_kappa_missing(votes)
    assert block["fleiss"]["equal_raters"] is False
    assert (block["fleiss"]["value"], block["fleiss"]["p_o"], block["fleiss"]["p_e"]) == (
        pytest.approx((fleiss.value, fleiss.p_o, fleiss.p_e))
    )
    assert block["fleiss_kappa"] == pytest.approx(fleiss.value)  # no longer None
    cats, scale = ag.count_judgments(inp.item, inp.scale, [1, 2, 3, 4, 4.5, 5, 6, 7, 8])
    ac2 = ag.gwet_ac2(scale, cats, "quadratic")
    assert block["ac2"] == {
        "value": pytest.approx(ac2.value), "p_o": pytest.approx(ac2.p_o),
        "p_e": pytest.approx(ac2.p_e), "weights": "quadratic",
    }  # fmt: skip
    assert 0 < block["ac2"]["p_e"] < block["ac2"]["p_o"] < 1


def test_equal_raters_fleiss_is_fleiss_1971():
    inp, _ = two_groups()
    block = build_report(inp, FAST)["agreement"]["all"]
    _, votes = ag.count_judgments(inp.item, inp.vote.astype(float), np.arange(4))
    assert block["fleiss"]["equal_raters"] is True
    assert block["fleiss_kappa"] == pytest.approx(ag.fleiss_kappa(votes).kappa)


def test_ranking_kendall_w_reports_both_forms_with_a_pooled_chi_square():
    inp = ranking()
    ranks = inp.ranks.copy()
    tied = (inp.labeler == 3) & (inp.item < 5)
    ranks[tied, 2:] = 3.5  # a few rankings tie the last two
    kendall = build_report(replace(inp, ranks=ranks), FAST)["agreement"]["all"]["kendall_w"]
    tests = [ag.kendall_w_test(ranks[inp.item == i]) for i in range(20)]
    assert kendall["items"] == 20 and kendall["df"] == 20 * 3
    assert kendall["mean"] == pytest.approx(np.mean([t.w_corrected for t in tests]))
    assert kendall["mean_uncorrected"] == pytest.approx(np.mean([t.w for t in tests]))
    assert kendall["mean_uncorrected"] < kendall["mean"]
    assert kendall["chi2"] == pytest.approx(sum(t.chi2_corrected for t in tests))
    assert kendall["chi2_uncorrected"] == pytest.approx(sum(t.chi2 for t in tests))
    assert kendall["p"] < 1e-10  # everyone ranks the first two the same way


def test_labeler_kappa_is_cohen_against_the_leave_one_out_consensus():
    inp, _ = two_groups(noise=0.2)
    report = build_report(inp, FAST)
    mine = inp.labeler == 3
    votes = np.array(
        [np.bincount(inp.vote[(inp.item == i) & ~mine], minlength=4) for i in range(40)]
    )
    consensus = votes.argmax(axis=1)
    unique = (votes == votes.max(axis=1, keepdims=True)).sum(axis=1) == 1
    own = inp.vote[mine][unique[inp.item[mine]]]
    other = consensus[inp.item[mine]][unique[inp.item[mine]]]
    expected = ag.cohen_agreement(ag.cohen_table(own, other, categories=np.arange(4)))
    row = _labeler(report, "L-03")
    assert row["kappa"] == pytest.approx(expected.value)
    assert row["kappa_p_e"] == pytest.approx(expected.p_e)
    assert row["agreement"] == pytest.approx(expected.p_o)


# --- position effect: does the response shown first win? -----------------------------------


def _shown_first_bias(bias: float, seed: int = 3, n_items: int = 120):
    """Pairwise judgments where the shown-first response wins with probability `bias` when
    the two responses are equally good (models 0 and 1 of equal strength)."""
    inp, _ = two_groups(n_items=n_items, contested=(), seed=seed)
    rng = np.random.default_rng(seed)
    first_shown = rng.integers(0, 2, inp.item.size)  # display_order[0]: A or B shown first
    first_wins = rng.random(inp.item.size) < bias
    vote = np.where(first_wins, first_shown, 1 - first_shown)
    models = np.tile([0, 1], (n_items, 1))
    return replace(
        inp, vote=vote, scale=np.where(vote == VOTE_A, 2.0, 7.0), first_shown=first_shown,
        slot_model=models, criteria=[],
    )  # fmt: skip


def test_position_effect_finds_the_shown_first_response_winning():
    inp = _shown_first_bias(0.7)
    position = build_report(inp, FAST)["preferences"]["position"]
    assert position["comparisons"] == inp.item.size and position["method"] == "exact"
    assert position["first_wins"] == pytest.approx(0.7, abs=0.03)
    assert 0 < position["low"] < position["effect"] < position["high"]
    assert position["first_wins_equal"] == pytest.approx(0.7, abs=0.03)
    assert position["p_value"] < 1e-6
    # The same fit by the agreement module, the rows built independently here.
    x = np.where(inp.first_shown == 0, 1.0, -1.0)  # is A (canonical first) the one shown first?
    score = np.where(inp.vote == VOTE_A, 1.0, 0.0)
    fit = ag.bradley_terry_fit(
        np.zeros_like(score, int), np.ones_like(score, int), score, 2, position=x
    )
    assert position["effect"] == pytest.approx(fit.position)
    assert position["se"] == pytest.approx(fit.position_se)


def test_position_effect_uses_the_display_order_not_canonical_a():
    # Labelers always prefer canonical A; A is shown first half the time: no position effect,
    # although "A" (stored first) wins everything.
    inp = _shown_first_bias(0.5)
    vote = np.zeros_like(inp.vote)
    models = np.tile([0, 1], (inp.item_ids.size, 1))
    report = build_report(
        replace(inp, vote=vote, scale=np.full(vote.size, 2.0), slot_model=models), FAST
    )
    position = report["preferences"]["position"]
    assert position["first_wins"] == pytest.approx(0.5, abs=0.05)
    # model 0 (always A) beats model 1 every time: no exact fit, the prior fit says why.
    assert position["method"] == "prior" and "not strongly connected" in position["note"]
    assert position["low"] < 0 < position["high"]


def test_position_effect_for_rankings_and_when_display_order_is_unknown():
    inp = ranking()
    report = build_report(inp, FAST)
    assert report["preferences"]["position"]["comparisons"] > 0
    unknown = build_report(replace(inp, first_shown=np.full(inp.item.size, -1)), FAST)
    position = unknown["preferences"]["position"]
    assert position["comparisons"] == 0 and position["effect"] is None
    json.dumps(unknown, allow_nan=False)
