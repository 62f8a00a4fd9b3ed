"""Pure computations of human evaluation: Wilson intervals, win rates (overall, per group, small
groups hidden), the Bradley-Terry leaderboard and its length-controlled variant."""

from __future__ import annotations

import math
import random

import pytest

from training.evaluation import (
    Comparison,
    agreement_rates,
    leaderboard,
    length_controlled_leaderboard,
    wilson,
    win_rates,
    win_rates_by_group,
)


def test_wilson_matches_the_textbook_values():
    low, high = wilson(8, 10)  # Agresti & Coull (1998): 0.490 .. 0.943
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)
    assert wilson(0, 5)[0] == 0.0 and wilson(5, 5)[1] == 1.0
    assert all(math.isnan(v) for v in wilson(0, 0))


def test_win_rates_count_ties_half_and_orient_pairs_by_model_order():
    rows = [
        Comparison("base", "dpo", 0.0),  # dpo won
        Comparison("dpo", "base", 1.0),  # dpo won
        Comparison("base", "dpo", 1.0),  # base won
        Comparison("dpo", "base", 0.5),  # tie
    ]
    (row,) = win_rates(rows, ["dpo", "base"])
    assert (row["model"], row["opponent"], row["wins"], row["losses"], row["ties"]) == (
        "dpo",
        "base",
        2,
        1,
        1,
    )
    assert row["rate"] == pytest.approx(2.5 / 4)
    assert row["low"] < row["rate"] < row["high"]


def test_groups_below_the_minimum_size_are_hidden():
    rows = [
        Comparison("a", "b", 1.0, groups=("young",), labeler=1),
        Comparison("a", "b", 1.0, groups=("young",), labeler=2),
        Comparison("a", "b", 0.0, groups=("senior", "young"), labeler=3),
    ]
    shown, hidden = win_rates_by_group(rows, ["a", "b"], min_group_size=2)
    assert hidden == ["senior"] and list(shown) == ["young"]
    assert (shown["young"][0]["wins"], shown["young"][0]["losses"]) == (2, 1)


def test_leaderboard_orders_models_by_strength_with_intervals():
    rng = random.Random(0)
    strength = {"weak": 0.0, "mid": 1.0, "strong": 2.0}
    rows = []
    for _ in range(300):
        a, b = rng.sample(list(strength), 2)
        p = 1 / (1 + math.exp(strength[b] - strength[a]))
        rows.append(Comparison(a, b, 1.0 if rng.random() < p else 0.0))
    board = leaderboard(rows, ["weak", "mid", "strong"], n_resamples=50)
    assert [r["model"] for r in board] == ["strong", "mid", "weak"]
    assert all(r["low"] <= r["strength"] <= r["high"] for r in board)


def test_length_control_finds_a_model_that_wins_only_by_writing_more():
    rng = random.Random(1)
    rows = []
    for _ in range(400):
        verbose_first = rng.random() < 0.5
        len_verbose, len_terse = rng.randint(40, 80), rng.randint(5, 30)
        # People prefer the longer answer; the models are otherwise equal.
        score_verbose = (
            1.0 if rng.random() < 1 / (1 + math.exp(-(len_verbose - len_terse) / 15)) else 0.0
        )
        if verbose_first:
            rows.append(Comparison("verbose", "terse", score_verbose, len_verbose, len_terse))
        else:
            rows.append(Comparison("terse", "verbose", 1 - score_verbose, len_terse, len_verbose))
    plain = {
        r["model"]: r["strength"] for r in leaderboard(rows, ["verbose", "terse"], n_resamples=30)
    }
    controlled = length_controlled_leaderboard(rows, ["verbose", "terse"], n_resamples=30)
    fair = {r["model"]: r["strength"] for r in controlled["board"]}
    assert plain["verbose"] - plain["terse"] > 1.0  # raw: verbose wins clearly
    assert controlled["beta"] > 0 and controlled["beta_low"] > 0  # longer wins, whoever wrote it
    assert abs(fair["verbose"] - fair["terse"]) < (plain["verbose"] - plain["terse"]) / 2


def test_agreement_rates_per_group():
    verdicts = [
        (True, ("young",), 1),
        (False, ("young",), 2),
        (True, ("senior",), 3),
        (True, (), 4),
    ]
    result = agreement_rates(verdicts, min_group_size=2)
    assert (result["overall"]["agree"], result["overall"]["n"]) == (3, 4)
    assert [(g["group"], g["agree"], g["n"]) for g in result["groups"]] == [("young", 1, 2)]
    assert result["hidden"] == ["senior"]


def test_self_comparisons_are_left_out_of_the_boards_instead_of_failing_them():
    """Issue 12: an older item with the same model on both sides (imports now refuse them)
    used to make the Bradley-Terry fit raise for the whole leaderboard."""
    rows = [Comparison("a", "b", 1.0)] * 6 + [Comparison("a", "b", 0.0)] * 2
    with_self = [*rows, Comparison("a", "a", 1.0), Comparison("b", "b", 0.5)]
    models = ["a", "b"]
    assert leaderboard(with_self, models, n_resamples=20) == leaderboard(
        rows, models, n_resamples=20
    )
    controlled = length_controlled_leaderboard(with_self, models, n_resamples=20)
    assert controlled == length_controlled_leaderboard(rows, models, n_resamples=20)
    assert [(r["model"], r["opponent"]) for r in win_rates(with_self, models)] == [("a", "b")]
    assert leaderboard([Comparison("a", "a", 1.0)], models) == []
