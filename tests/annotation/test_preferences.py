"""annotation/preferences.py: judgment -> (chosen, rejected, weight), tie and both-bad policies."""

from __future__ import annotations

import doctest
from math import comb

import pytest

from annotation import preferences
from annotation.models import PairwiseChoice
from annotation.preferences import Expansion, Pair, judgment_pairs, ranking_weight


def test_choice_constants_are_the_models_values():
    assert (
        preferences.CHOICE_A,
        preferences.CHOICE_B,
        preferences.CHOICE_TIE,
        preferences.CHOICE_BOTH_BAD,
    ) == (PairwiseChoice.A, PairwiseChoice.B, PairwiseChoice.TIE, PairwiseChoice.BOTH_BAD)


def test_docstring_example_runs():
    result = doctest.testmod(preferences)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(("choice", "pair"), [("a", Pair(0, 1, 1.0)), ("b", Pair(1, 0, 1.0))])
def test_pairwise_choice_gives_one_pair_of_weight_1(choice, pair):
    assert judgment_pairs(choice, {}) == Expansion([pair])
    # A pairwise choice wins over stray ranks, and the policies do not touch it.
    both = judgment_pairs(choice, {0: 2, 1: 1}, tie_policy="both_ways", both_bad_policy="as_tie")
    assert both == Expansion([pair])


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_ranking_gives_every_pair_and_the_weights_sum_to_1(k):
    ranks = {position: k - position for position in range(k)}  # the last reply is best
    expansion = judgment_pairs("", ranks)
    assert len(expansion.pairs) == comb(k, 2) and expansion.skipped == {}
    assert all(p.weight == pytest.approx(1 / comb(k, 2)) for p in expansion.pairs)
    assert sum(p.weight for p in expansion.pairs) == pytest.approx(1.0)
    assert all(p.chosen > p.rejected for p in expansion.pairs)  # higher position = better rank
    assert ranking_weight(k) == pytest.approx(1 / comb(k, 2))


def test_ranking_pairs_are_in_canonical_positions():
    expansion = judgment_pairs("", {0: 2, 1: 1, 2: 3})  # 1 > 0 > 2
    assert [(p.chosen, p.rejected) for p in expansion.pairs] == [(1, 0), (0, 2), (1, 2)]


def test_ranking_ties_are_skipped_and_counted_by_default():
    expansion = judgment_pairs("", {0: 1, 1: 2, 2: 2, 3: 3})  # 0 > 1 = 2 > 3
    pairs = {(p.chosen, p.rejected) for p in expansion.pairs}
    assert pairs == {(0, 1), (0, 2), (0, 3), (1, 3), (2, 3)}
    assert all(p.weight == pytest.approx(1 / 6) for p in expansion.pairs)
    assert expansion.skipped == {"tied_ranking_pair": 1}


def test_ranking_ties_both_ways_at_half_weight():
    expansion = judgment_pairs("", {0: 1, 1: 1, 2: 2}, tie_policy="both_ways")
    tied = [p for p in expansion.pairs if {p.chosen, p.rejected} == {0, 1}]
    assert sorted(tied) == [Pair(0, 1, pytest.approx(1 / 6)), Pair(1, 0, pytest.approx(1 / 6))]
    assert len(expansion.pairs) == 4 and expansion.skipped == {}
    assert sum(p.weight for p in expansion.pairs) == pytest.approx(1.0)  # still one judgment


def test_a_ranking_all_tied_gives_no_pair_but_is_counted_per_tied_pair():
    assert judgment_pairs("", {0: 1, 1: 1, 2: 1}) == Expansion([], {"tied_ranking_pair": 3})


@pytest.mark.parametrize(
    ("choice", "tie_policy", "both_bad_policy", "pairs", "skipped"),
    [
        ("tie", "skip", "skip", [], {"tie": 1}),
        ("tie", "skip", "as_tie", [], {"tie": 1}),
        ("tie", "both_ways", "skip", [Pair(0, 1, 0.5), Pair(1, 0, 0.5)], {}),
        ("both_bad", "skip", "skip", [], {"both_bad": 1}),
        ("both_bad", "both_ways", "skip", [], {"both_bad": 1}),
        ("both_bad", "skip", "as_tie", [], {"both_bad": 1}),
        ("both_bad", "both_ways", "as_tie", [Pair(0, 1, 0.5), Pair(1, 0, 0.5)], {}),
    ],
)
def test_tie_and_both_bad_policies(choice, tie_policy, both_bad_policy, pairs, skipped):
    expansion = judgment_pairs(choice, {}, tie_policy=tie_policy, both_bad_policy=both_bad_policy)
    assert expansion == Expansion(pairs, skipped)


@pytest.mark.parametrize("ranks", [{}, {0: 1}])
def test_no_choice_and_fewer_than_two_ranks_gives_no_pair(ranks):
    assert judgment_pairs("", ranks) == Expansion([], {"no_pair": 1})


def test_unknown_policies_are_refused():
    with pytest.raises(ValueError, match="tie_policy"):
        judgment_pairs("tie", {}, tie_policy="coin_flip")
    with pytest.raises(ValueError, match="both_bad_policy"):
        judgment_pairs("both_bad", {}, both_bad_policy="as_win")


def test_adjudication_pairs_best_over_each_other_summing_to_one():
    from annotation.preferences import adjudication_pairs

    pairs = adjudication_pairs(2, 4)
    assert [(p.chosen, p.rejected) for p in pairs] == [(2, 0), (2, 1), (2, 3)]
    assert abs(sum(p.weight for p in pairs) - 1) < 1e-12
    with pytest.raises(ValueError):
        adjudication_pairs(4, 4)


def test_red_team_reverses_every_pair():
    assert preferences.judgment_pairs("a", {}, scale=1, red_team=True).pairs == [
        preferences.Pair(1, 0, 1.0, 1.0)
    ]
    both = preferences.judgment_pairs("tie", {}, tie_policy="both_ways", red_team=True).pairs
    assert sorted(both) == sorted(
        preferences.judgment_pairs("tie", {}, tie_policy="both_ways").pairs
    )
