"""The report of a rating project (one response per item, rated on criteria): per criterion,
overall and per labeler group, Krippendorff's alpha and each label's share. No Django.

* A categorical criterion (labels such as "Yes"/"No"/"Unsure") gives nominal alpha over the
  units = items, each labeler's label a value; a numeric scale also gives ordinal and interval
  alpha. A group's alpha uses only the ratings of judgments that count in that group (one group
  per judgment, `selectors.labelers.JudgmentGroup`): how much its members agree with each
  other.
* The positive rate is the share of a group's ratings that are the criterion's positive label
  (`Criterion.positive_option`, e.g. "Yes" or 1), with every other label (including "Unsure")
  in the denominator; the distribution gives every label's share.
* Groups with fewer than `min_group_size` labelers who rated are left out (counted only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from annotation import agreement as ag
from annotation.privacy import shown_groups


@dataclass(frozen=True)
class RatingCriterion:
    name: str
    options: list[str]  # labels of a categorical criterion (value = index); [] for a scale
    scale_min: int
    scale_max: int
    positive: str  # the positive label, "" for none


@dataclass(frozen=True)
class Ratings:
    """One entry per rating."""

    item: npt.NDArray[np.int64]  # item index
    labeler: npt.NDArray[np.int64]  # labeler index
    judgment: npt.NDArray[np.int64]  # judgment index
    group: npt.NDArray[Any]  # the group its judgment counts in, "" for none (object array)
    criterion: npt.NDArray[np.int64]  # index into the criteria
    value: npt.NDArray[np.float64]


def rating_report(
    criteria: list[RatingCriterion], ratings: Ratings, min_group_size: int
) -> dict[str, Any]:
    names = sorted({g for g in ratings.group.tolist() if g})
    sizes = {g: int(np.unique(ratings.labeler[ratings.group == g]).size) for g in names}
    shown = shown_groups(sizes, min_group_size)
    everyone = np.ones(ratings.item.size, dtype=bool)
    masks = {g: ratings.group == g for g in shown}
    return {
        "kind": "rating",
        "config": {"min_group_size": min_group_size},
        "totals": {
            "judgments": int(np.unique(ratings.judgment).size),
            "ratings": int(ratings.item.size),
            "items": int(np.unique(ratings.item).size),
            "labelers": int(np.unique(ratings.labeler).size),
        },
        "groups": [
            {
                "name": g,
                "labelers": size,
                "judgments": int(np.unique(ratings.judgment[masks[g]]).size),
            }
            for g, size in shown.items()
        ],
        "hidden_groups": len(names) - len(shown),
        "criteria": [
            {
                "name": crit.name,
                "labels": crit.options,
                "positive": crit.positive,
                "all": _block(crit, ratings, everyone & (ratings.criterion == index)),
                "groups": {
                    g: _block(crit, ratings, mask & (ratings.criterion == index))
                    for g, mask in masks.items()
                },
            }
            for index, crit in enumerate(criteria)
        ],
    }


def _block(crit: RatingCriterion, ratings: Ratings, mask: npt.NDArray[np.bool_]) -> dict[str, Any]:
    values = ratings.value[mask]
    units = ratings.item[mask]
    cats = np.arange(crit.scale_min, crit.scale_max + 1, dtype=np.float64)
    _, counts = ag.count_judgments(units, values, cats)
    n = values.size
    block: dict[str, Any] = {
        "ratings": int(n),
        "labelers": int(np.unique(ratings.labeler[mask]).size),
        "items": int(np.unique(units).size),
        "alpha_nominal": _alpha(counts, cats, "nominal"),
    }
    if crit.options:
        shares = np.bincount(values.astype(np.int64), minlength=len(crit.options)) / max(n, 1)
        block["distribution"] = dict(zip(crit.options, shares.tolist(), strict=True))
        if crit.positive:
            block["positive_rate"] = (
                float(np.mean(values == crit.options.index(crit.positive))) if n else None
            )
    else:
        block["alpha_ordinal"] = _alpha(counts, cats, "ordinal")
        block["alpha_interval"] = _alpha(counts, cats, "interval")
        block["mean"] = float(values.mean()) if n else None
    return block


def _alpha(counts: npt.NDArray[np.float64], cats: npt.NDArray[np.float64], level: Any) -> Any:
    value = ag.alpha_from_counts(counts, cats, level) if counts.size else float("nan")
    return value if np.isfinite(value) else None
