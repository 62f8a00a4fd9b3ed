"""Judgment -> (chosen, rejected, weight, strength) pairs: the one home of that rule.

Pure Python (no Django), used by the TRL/HH exports (`annotation.services.exports`) and by the
training snapshots (`training.datasets`), so both always give the same pairs and weights.
Positions are canonical (0 = reply A of a pairwise item), never the order a labeler saw.

What a judgment gives
- pairwise "a" / "b": one pair, the preferred reply `chosen`, weight 1;
- a ranking of K replies (rank 1 = best): every pair with different ranks, each with weight
  1/C(K, 2), as InstructGPT weights a prompt's comparisons, so a ranking counts as much as
  one pairwise judgment in total;
- anything else (a demonstration, a ranking of fewer than 2 replies): no pair, counted as
  "no_pair".
- an adjudicated answer (a reviewer's best of K replies, `adjudication_pairs`): the best over
  each other reply, each with weight 1/(K - 1), so it too counts as one judgment in total.

Ties, `tie_policy` (a pairwise "tie", or two replies of equal rank in a ranking)
- "skip" (default): no pair. Bradley-Terry and DPO need a winner; a tie names none.
  Counted as "tie" (pairwise) or "tied_ranking_pair" (per tied pair of a ranking).
- "both_ways": both orders, each at half the pair's weight (1/2 for a pairwise tie,
  1/(2 C(K, 2)) for a ranking's tied pair). Together -log s(d) - log s(-d) is smallest at
  d = 0, so the two rewards are pulled together rather than apart.

Both bad, `both_bad_policy` (pairwise "both_bad")
- "skip" (default): no pair: no reply is acceptable, so none can be `chosen` ("both_bad").
- "as_tie": treated as a tie; then the tie policy decides.

Strength (issue 11): how strongly the chosen reply won, from the pairwise judgment's 8-point
`scale` (`annotation.models.SCALE_LABELS`), as Llama 2's four levels (Touvron et al. 2023,
sec. 3.2.2) normalised to 0..1 (`scale_strength`): "much better" (1 or 8) 1, "better" (2 or 7)
2/3, "slightly better" (3 or 6) 1/3, "marginally better" (4 or 5) 0. Pairwise judgments
without a scale, ties and rankings carry `strength=None` (no scale says how much). The trainers
use it only when asked (`training.ml.config` `strength`: "margin" or "weight"; default "ignore").

Red team (issue 16), `red_team=True`: the labeler of a red-team project picked the MORE
harmful reply, so every pair is reversed: `chosen` is the less harmful reply, as in
Anthropic's harmless-base data (collected the same way). Exports mark red-team rows and
training runs refuse to mix red-team and ordinary projects (`training.services.runs`), so the
two questions are never pooled.

The string values are those of `annotation.models.PairwiseChoice` and of
`training.models.TiePolicy` / `BothBadPolicy` (tests check that they match).

Example::

    >>> judgment_pairs("b", {})
    Expansion(pairs=[Pair(chosen=1, rejected=0, weight=1.0, strength=None)], skipped={})
    >>> judgment_pairs("a", {}, scale=2).pairs[0].strength  # "A is better"
    0.6666666666666666
    >>> ranked = judgment_pairs("", {0: 2, 1: 1, 2: 2})  # reply 1 best, 0 and 2 tied
    >>> [(p.chosen, p.rejected, round(p.weight, 3)) for p in ranked.pairs], ranked.skipped
    ([(1, 0, 0.333), (1, 2, 0.333)], {'tied_ranking_pair': 1})
    >>> judgment_pairs("both_bad", {}, tie_policy="both_ways", both_bad_policy="as_tie").pairs
    [Pair(chosen=0, rejected=1, weight=0.5, strength=None), Pair(chosen=1, rejected=0, weight=0.5, strength=None)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import NamedTuple

# Pairwise choices (annotation.models.PairwiseChoice values); "" means no pairwise choice.
CHOICE_A, CHOICE_B, CHOICE_TIE, CHOICE_BOTH_BAD = "a", "b", "tie", "both_bad"
# Tie policies (training.models.TiePolicy values).
TIE_SKIP, TIE_BOTH_WAYS = "skip", "both_ways"
# Both-bad policies (training.models.BothBadPolicy values).
BOTH_BAD_SKIP, BOTH_BAD_AS_TIE = "skip", "as_tie"
TIE_POLICIES = (TIE_SKIP, TIE_BOTH_WAYS)
BOTH_BAD_POLICIES = (BOTH_BAD_SKIP, BOTH_BAD_AS_TIE)


class Pair(NamedTuple):
    """`chosen` (a canonical position) was preferred to `rejected`, counting `weight`, by
    `strength` (0..1, from the 8-point scale; None without one)."""

    chosen: int
    rejected: int
    weight: float
    strength: float | None = None


@dataclass(frozen=True)
class Expansion:
    """A judgment's pairs, and why some were left out: reason -> how many (only if > 0)."""

    pairs: list[Pair]
    skipped: dict[str, int] = field(default_factory=dict)


def ranking_weight(k: int) -> float:
    """The weight of each pair of a K-way ranking: 1/C(K, 2)."""
    return 2.0 / (k * (k - 1))


def scale_strength(scale: int | None) -> float | None:
    """The strength of an 8-point `scale` value: 1, 2/3, 1/3, 0 for "much better", "better",
    "slightly better", "marginally better" (either side); None for no scale."""
    if scale is None:
        return None
    if not 1 <= scale <= 8:
        raise ValueError(f"scale must be 1..8, got {scale!r}")
    distance = scale - 1 if scale <= 4 else 8 - scale  # 0 = much better .. 3 = marginally
    return (3 - distance) / 3


def judgment_pairs(
    choice: str,
    ranks: Mapping[int, int],
    *,
    scale: int | None = None,
    tie_policy: str = TIE_SKIP,
    both_bad_policy: str = BOTH_BAD_SKIP,
    red_team: bool = False,
) -> Expansion:
    """The pairs of one judgment: a pairwise `choice`, or else `ranks` (position -> rank);
    `scale` (1..8, pairwise only) gives a decided pair its strength; `red_team` reverses them
    (the choice named the more harmful reply)."""
    expansion = _judgment_pairs(choice, ranks, scale, tie_policy, both_bad_policy)
    if red_team:
        expansion.pairs[:] = [
            p._replace(chosen=p.rejected, rejected=p.chosen) for p in expansion.pairs
        ]
    return expansion


def _judgment_pairs(
    choice: str, ranks: Mapping[int, int], scale: int | None, tie_policy: str, both_bad_policy: str
) -> Expansion:
    if tie_policy not in TIE_POLICIES:
        raise ValueError(f"tie_policy must be one of {TIE_POLICIES}, got {tie_policy!r}")
    if both_bad_policy not in BOTH_BAD_POLICIES:
        raise ValueError(
            f"both_bad_policy must be one of {BOTH_BAD_POLICIES}, got {both_bad_policy!r}"
        )
    if choice in (CHOICE_A, CHOICE_B):
        best = 0 if choice == CHOICE_A else 1
        return Expansion([Pair(best, 1 - best, 1.0, scale_strength(scale))])
    if choice == CHOICE_BOTH_BAD and both_bad_policy == BOTH_BAD_SKIP:
        return Expansion([], {"both_bad": 1})
    if choice in (CHOICE_TIE, CHOICE_BOTH_BAD):
        return _ties([Pair(0, 1, 1.0)], tie_policy, reason=choice)
    if choice or len(ranks) < 2:
        return Expansion([], {"no_pair": 1})
    return _ranking_pairs(ranks, tie_policy)


def _ranking_pairs(ranks: Mapping[int, int], tie_policy: str) -> Expansion:
    """Every pair of a ranking: ordered ones as they are, tied ones under the tie policy."""
    weight = ranking_weight(len(ranks))
    ordered, tied = [], []
    for i, j in combinations(sorted(ranks), 2):
        if ranks[i] == ranks[j]:
            tied.append(Pair(i, j, weight))
        else:
            ordered.append(Pair(i, j, weight) if ranks[i] < ranks[j] else Pair(j, i, weight))
    ties = _ties(tied, tie_policy, reason="tied_ranking_pair")
    return Expansion(ordered + ties.pairs, ties.skipped)


def _ties(tied: list[Pair], tie_policy: str, reason: str) -> Expansion:
    """Tied pairs: both orders at half weight, or none (counted under `reason`)."""
    if tie_policy == TIE_BOTH_WAYS:
        halves = [(Pair(i, j, w / 2), Pair(j, i, w / 2)) for i, j, w, _ in tied]
        return Expansion([pair for both in halves for pair in both])
    return Expansion([], {reason: len(tied)} if tied else {})


def adjudication_pairs(best: int, k: int) -> list[Pair]:
    """A reviewer's adjudicated answer: reply `best` preferred to each of the other K - 1."""
    if not 0 <= best < k or k < 2:
        raise ValueError(f"best must be a position below k = {k}, got {best!r}")
    return [Pair(best, other, 1 / (k - 1)) for other in range(k) if other != best]
