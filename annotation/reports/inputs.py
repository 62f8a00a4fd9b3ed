"""The report's input arrays, its settings, and the vote helpers every part shares."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from annotation import agreement as ag

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

PAIRWISE, RANKING = "pairwise", "ranking"
REGULAR, GOLD, SCREENING = 0, 1, 2  # item purposes
PAIRWISE_VOTES = ("A", "B", "tie", "both bad")  # vote index = canonical position for A, B
VOTE_A, VOTE_B, VOTE_TIE, VOTE_BOTH_BAD = 0, 1, 2, 3
SCALE_CATEGORIES = np.array([1, 2, 3, 4, ag.SCALE_TIE, 5, 6, 7, 8], dtype=np.float64)


@dataclass(frozen=True)
class ReportConfig:
    min_group_size: int = 5  # groups with fewer active labelers are left out
    min_votes_per_group: int = 3  # a group comparison needs this many votes per group
    min_jsd: float = 0.2  # contested items diverge at least this much (base-2 JSD)
    fdr: float = 0.05  # Benjamini-Hochberg false discovery rate for contested items
    max_tests: int = 500  # significance tests run on the most divergent candidates only
    max_listed: int = 100  # most divergent items kept in the report
    n_permutations: int = 1999  # permutation test size when counts are too small for chi2
    n_resamples: int = 200  # bootstrap resamples for confidence intervals
    confidence: float = 0.95
    low_agreement: float = 0.5  # flag below this agreement with the consensus ...
    min_comparable: int = 10  # ... or any quality figure, only over this many judgments
    straight_line_share: float = 0.9  # flag when one answer (as displayed) is this common
    fast_ratio: float = 0.25  # flag a median time under this share of the labelers' median
    gold_threshold: float = 0.7  # flag gold accuracy below this (Project.gold_threshold) ...
    min_gold: int = 5  # ... once a labeler has judged this many gold items
    seed: int = 0


@dataclass(frozen=True)
class CriterionData:
    name: str
    scale_min: int
    scale_max: int
    judgment: IntArray  # index into the judgment arrays
    position: IntArray  # canonical position of the rated response
    value: FloatArray


@dataclass(frozen=True)
class ReportInput:
    """A project's judgments as arrays. Items and labelers are indices, not database ids."""

    kind: str  # PAIRWISE or RANKING
    item_ids: IntArray  # database id of each item (for links)
    item_purpose: IntArray  # REGULAR, GOLD, SCREENING
    item_gold: IntArray  # known best position of gold/screening items, -1 if none
    slot_model: IntArray  # items x K: index into `models`, -1 for an empty slot
    slot_length: FloatArray  # items x K: characters of each response, nan if empty
    models: list[str]  # response sources (Completion.source_model)
    labelers: list[str]  # pseudonyms
    groups: dict[str, BoolArray]  # group name -> labelers with a judgment counted in it
    item: IntArray  # per judgment: item index
    labeler: IntArray  # per judgment: labeler index
    vote: IntArray  # per judgment: vote category (see module doc), -1 if none
    scale: FloatArray  # per judgment: 1..8, 4.5 for a tie, nan (pairwise only)
    ranks: FloatArray  # judgments x K average ranks, nan where unranked (ranking only)
    seconds: FloatArray  # per judgment: seconds spent, nan if unknown
    first_shown: IntArray  # per judgment: canonical position shown first, -1 if unknown
    criteria: list[CriterionData] = field(default_factory=list)
    screened: BoolArray | None = None  # per labeler: passed screening (LabelerProfile)
    shown_order: IntArray | None = None  # ranking: judgments x K positions as displayed, -1 pad
    imported: ReportInput | None = None  # imported judgments (same items), for biases only
    external_judgments: int = 0  # how many judgments were imported
    # group name -> the judgments counted in it (one group per judgment, selectors.labelers.
    # JudgmentGroup); None: every judgment of a member (`groups[name][labeler]`)
    judgment_groups: dict[str, BoolArray] | None = None

    def group_mask(self, name: str) -> BoolArray:
        """The judgments that count in group `name`."""
        if self.judgment_groups is not None:
            return self.judgment_groups[name]
        return self.groups[name][self.labeler]

    @property
    def k(self) -> int:
        return int(self.slot_model.shape[1])

    @property
    def vote_labels(self) -> list[str]:
        if self.kind == PAIRWISE:
            return list(PAIRWISE_VOTES)
        return [chr(ord("A") + p) for p in range(self.k)] + ["tied best"]


def n_votes(inp: ReportInput) -> int:
    return len(inp.vote_labels)


def vote_counts(inp: ReportInput, mask: BoolArray) -> FloatArray:
    """items x vote categories."""
    keep = mask & (inp.vote >= 0)
    c = n_votes(inp)
    flat = np.bincount(inp.item[keep] * c + inp.vote[keep], minlength=inp.item_ids.size * c)
    return flat.reshape(inp.item_ids.size, c).astype(np.float64)


def majority(counts: FloatArray) -> IntArray:
    """Index of each row's unique plurality vote, -1 when there is none."""
    top = counts.max(axis=1, initial=0)
    unique = (counts == top[:, None]).sum(axis=1) == 1
    return np.where(unique & (top > 0), counts.argmax(axis=1), -1)


def response_units(inp: ReportInput, mask: BoolArray) -> tuple[IntArray, FloatArray]:
    """Ranking: (item * K + position, rank) for every ranked response of masked judgments."""
    ranks = inp.ranks[mask]
    unit = inp.item[mask][:, None] * inp.k + np.arange(inp.k)[None, :]
    present = ~np.isnan(ranks)
    return unit[present], ranks[present]


def unit_values(inp: ReportInput, mask: BoolArray) -> tuple[FloatArray, FloatArray]:
    """Per unit: (sum of interval values, count). Units: items (pairwise, value = margin
    for A) or item * K + position (ranking, value = rank)."""
    if inp.kind == PAIRWISE:
        rated = mask & ~np.isnan(inp.scale)
        unit, value, n = inp.item[rated], ag.scale_to_interval(inp.scale[rated]), inp.item_ids.size
    else:
        unit, value = response_units(inp, mask)
        n = inp.item_ids.size * inp.k
    total = np.bincount(unit, value, n).astype(np.float64)
    return total, np.bincount(unit, None, n).astype(np.float64)
