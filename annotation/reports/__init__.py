"""A project's agreement report: judgment arrays in, a JSON-ready dict out. No Django.

`selectors/reports.py` loads a project's judgments into a `ReportInput` (numpy arrays, one
entry per judgment, read with values_list), `services/reports.py` caches what `build_report`
returns; the dashboard and the API only read the cached dict. Every statistic comes from
annotation.agreement; `reports.groups` (agreement, contested items, criteria), `reports.wins`
(which response sources win, length bias) and `reports.quality` (labelers) assemble the
figures, and `reports.dashboard` and `reports.charts` turn the cached dict into tables and
inline-SVG geometry, `reports.summary` into plain sentences (and notes on metrics that seem to
disagree, such as the prevalence paradox), `reports.export` into a CSV file.

How judgments map to metrics
----------------------------
Only *regular* items count for agreement, preferences, contested items and length bias;
gold and screening items (known answers, often easy by design) only grade labelers.
Imported judgments (no labeler, e.g. HH-RLHF's original choice) count only for preferences
and length bias, reported apart: they go into the training data too.

Pairwise projects (A = canonical position 0, B = position 1, whatever side was shown):
* vote, nominal with 4 categories: A better (scale 1-4), B better (5-8), tie, both bad.
  Nominal alpha, percent agreement, Gwet's AC1, Fleiss' kappa (the missing-data form, so
  items may have different numbers of labelers; with p_o and p_e), the groups' vote
  distributions and majorities, the contested-item tests and the leave-one-out consensus all
  use it.
* the 8-point scale as ordinal and interval data: 1 (A much better) .. 8 (B much better),
  a tie is the midpoint 4.5 (agreement.SCALE_TIE); "both bad" has no place on the scale
  and is left out. Alpha ordinal and interval, Gwet's AC2 with quadratic weights on the
  scale values (with p_o and p_e); a group's mean margin for A is
  agreement.scale_to_interval (4.5 - scale).
* preferences: A wins = 1, B wins = 0, tie = 0.5 (half a win each); "both bad" is no
  comparison.
Ranking projects (K responses ranked 1 = best, ties allowed):
* each response's rank (ties as average ranks) is an ordinal value of the unit
  (item, response): alpha ordinal, and Gwet's AC2 with quadratic weights on the ranks. Per
  item, Kendall's W over the complete rankings, with and without the tie correction: their
  means, and the items' chi2 = m (n - 1) W summed into one chi-square test.
* vote, nominal: the response ranked best, or "tied best" when several share rank 1.
* preferences: every pair of responses is a comparison (tie = 0.5) weighted 1 / C(K, 2), as
  InstructGPT weights a prompt's comparisons.
Position effect (both kinds): does the response *shown* first win? The labeler's display
order is recorded on the judgment (`Judgment.display_order`; `first_shown` is its first
canonical position), so A/B stay canonical and the shown-first side varies. Bradley-Terry over
the response sources with a position effect (`wins.position_effect`): its gamma is the
log-odds advantage of being shown first, with a Wald interval from the Hessian; expit(gamma)
is the chance that the shown-first of two equally strong responses wins.
Length bias (both kinds): the share of decided comparisons the longer response wins, and a
logistic regression of P(the response *shown* first wins) on its length minus the other's, each
comparison turned to the labeler's display order (`wins.shown_first_sign`); comparisons without
a recorded order (imported) keep the stored order, A first, and are counted (`unordered`).
Win rates come with `counts`, the unweighted comparisons of each source (a ranking pair weighs
1/C(K, 2) in `games`, so a weighted count can round to 0 beside a win rate).
Rubric criteria: each criterion's ratings are values of the units (item, response); alpha
ordinal and interval per criterion.
Rating projects (one response per item, usually imported with their annotators): per
criterion, overall and per group, alpha over the items (nominal for categorical labels, also
ordinal and interval for a numeric scale) and each label's share, the positive label's share
("Yes", 1) given apart (`reports.ratings`).

Groups
------
A group is shown only when at least `min_group_size` of its members judged regular items:
smaller groups are left out of every figure (not even named). Each judgment counts in ONE
group: the one recorded when it was made, by `LabelerGroup.priority` for a labeler in several
(`selectors.labelers.JudgmentGroup`, the same policy as training runs), so overlapping groups
never share votes. Between two groups, an item is compared only when each group gave it at least
`min_votes_per_group` votes.
* majority agreement: share of the compared items where both groups' unique plurality
  votes are the same.
* between-group alpha: the groups act as coders; each group's value for a unit is its mean
  interval value (pairwise: margin for A; ranking: mean rank); interval alpha over them.
* contested items: Jensen-Shannon divergence of the two groups' vote distributions; the
  `max_tests` most divergent with JSD >= `min_jsd` get agreement.homogeneity_test (chi-square
  or permutation), p-values are adjusted by Benjamini-Hochberg over every compared item
  (untested ones count as p = 1); contested = adjusted p <= `fdr`. With only a few votes
  per group and item, no single item among many can be significant; the most divergent
  are still listed, marked as not significant.

Labeler quality
---------------
Reported apart from groups, by pseudonym, with Cohen's kappa of each labeler's votes
against the leave-one-out consensus (p_o = the agreement share, p_e from both vote shares).
A labeler is flagged
* "low agreement" only when they disagree with the leave-one-out consensus (unique
  plurality of the other votes on the item) of everyone *and* of each of their own groups
  (any size), so a minority view shared by one's group is not carelessness;
* "straight-lining" when one answer *as displayed* (pairwise: the point on the scale they
  clicked; ranking: the ranking read in display order) makes up >= `straight_line_share`
  of their judgments, or else "side bias" when they pick the response shown first that
  often (or that rarely);
* "fast" when their median seconds per judgment is under `fast_ratio` of the labelers'
  median; "gold" when their accuracy on gold items is below `gold_threshold`.
"""

from __future__ import annotations

from dataclasses import asdict
from math import isfinite
from typing import Any

import numpy as np

from annotation.privacy import shown_groups
from annotation.reports.groups import agreement_block, between, contested, criteria
from annotation.reports.inputs import (
    REGULAR,
    BoolArray,
    CriterionData,
    ReportConfig,
    ReportInput,
    unit_values,
    vote_counts,
)
from annotation.reports.quality import labeler_quality
from annotation.reports.wins import comparisons, length_bias, position_effect, preferences

__all__ = ["CriterionData", "ReportConfig", "ReportInput", "build_report"]


def build_report(inp: ReportInput, cfg: ReportConfig) -> dict[str, Any]:
    """Every figure of the dashboard, as plain JSON types (nan becomes None)."""
    rng = np.random.default_rng(cfg.seed)
    regular = inp.item_purpose[inp.item] == REGULAR
    shown = _shown_groups(inp, regular, cfg)
    masks = {name: inp.group_mask(name) & regular for name in shown}
    counts = {name: vote_counts(inp, mask) for name, mask in {"": regular, **masks}.items()}
    values = {name: unit_values(inp, masks[name]) for name in shown}
    comp = comparisons(inp)
    report = {
        "kind": inp.kind,
        "config": asdict(cfg),
        "vote_labels": inp.vote_labels,
        "totals": {
            "judgments": int(inp.item.size),
            "regular_judgments": int(regular.sum()),
            "external_judgments": inp.external_judgments,
            "items": int(inp.item_ids.size),
            "labelers": int(np.unique(inp.labeler).size),
            "models": len(inp.models),
        },
        "groups": [
            {"name": name, "labelers": size, "judgments": int(masks[name].sum())}
            for name, size in shown.items()
        ],
        "hidden_groups": len(inp.groups) - len(shown),
        "agreement": {
            "all": agreement_block(inp, regular, counts[""], cfg, rng),
            "groups": {
                name: agreement_block(inp, masks[name], counts[name], cfg, rng) for name in shown
            },
        },
        "between": between(inp, list(shown), counts, values, cfg),
        "contested": contested(inp, list(shown), counts, values, cfg, rng),
        "preferences": {
            **preferences(inp, comp, regular, masks, cfg, rng),
            "imported": None,
            "position": position_effect(inp, comp, regular, cfg),
        },
        "length_bias": {**length_bias(inp, comp, regular, masks), "imported": None},
        "criteria": criteria(inp, regular, masks, cfg, rng),
        "labelers": labeler_quality(inp, regular, cfg),
    }
    if inp.imported is not None and inp.imported.item.size:
        _add_imported(report, inp.imported, cfg, rng)
    return _clean(report)


def _add_imported(
    report: dict[str, Any], imp: ReportInput, cfg: ReportConfig, rng: np.random.Generator
) -> None:
    """Imported judgments go into training data too: their preferences and length bias."""
    regular = imp.item_purpose[imp.item] == REGULAR
    comp = comparisons(imp)
    report["preferences"]["imported"] = preferences(imp, comp, regular, {}, cfg, rng)["all"]
    report["length_bias"]["imported"] = length_bias(imp, comp, regular, {})["all"]


def _shown_groups(inp: ReportInput, regular: BoolArray, cfg: ReportConfig) -> dict[str, int]:
    active = np.zeros(len(inp.labelers), dtype=bool)
    active[inp.labeler[regular]] = True
    sizes = {name: int((members & active).sum()) for name, members in inp.groups.items()}
    return shown_groups(sizes, cfg.min_group_size)


def _clean(value: Any) -> Any:
    """numpy scalars to Python, nan/inf to None, recursively."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if isfinite(value) else None
    return value
