"""annotation.reports.summary on hand-built figures: the sentences a researcher reads first,
the prevalence-paradox note, and that small groups are never named."""

from __future__ import annotations

from typing import Any

import pytest

from annotation.reports.dashboard import dashboard
from annotation.reports.export import report_csv
from annotation.reports.summary import summary, visible_groups


def _block(alpha: float, percent: float, ac1: float, p_e: float = 0.5, ordinal=None) -> dict:
    return {
        "judgments": 100, "items": 20, "items_multi": 20,
        "nominal": {"value": alpha, "low": None, "high": None, "units": 20},
        "ordinal": {"value": ordinal, "low": None, "high": None, "units": 20},
        "interval": None, "percent_agreement": percent, "ac1": ac1, "fleiss_kappa": alpha,
        "fleiss": {"value": alpha, "p_o": percent, "p_e": p_e, "weights": "identity",
                   "equal_raters": True},
        "ac2": None,
    }  # fmt: skip


def _length(rate: float | None) -> dict[str, Any]:
    return {"comparisons": 50, "longer_wins": rate, "longer_wins_n": 50, "slope": None,
            "slope_low": None, "slope_high": None, "intercept": None, "curve": [], "bins": [],
            "unordered": 0}  # fmt: skip


def _side(group: str, majority: str | None, votes: list[int]) -> dict[str, Any]:
    return {"group": group, "votes": votes, "majority": majority, "mean": None}


def payload(
    sizes: dict[str, int] | None = None, all_block: dict | None = None, hidden: int = 0
) -> dict[str, Any]:
    """A report payload with groups A, B (and any in `sizes`) built by hand."""
    sizes = sizes or {"A": 6, "B": 7}
    names = list(sizes)
    n = len(names)
    agree = [[None if i == j else 0.8 for j in range(n)] for i in range(n)]
    if "tiny" in names:  # the tiny group disagrees most with everyone
        t = names.index("tiny")
        for i in range(n):
            if i != t:
                agree[i][t] = agree[t][i] = 0.3
    prefs = {"comparisons": 120, "games": [60, 60], "counts": [60, 60],
             "win_rate": [0.39, 0.61], "win_low": [0.3, 0.5], "win_high": [0.5, 0.7],
             "strength": [0, 0], "strength_low": [0, 0], "strength_high": [0, 0]}  # fmt: skip
    return {
        "kind": "pairwise",
        "config": {"min_group_size": 5, "min_votes_per_group": 3, "fdr": 0.05},
        "vote_labels": ["A", "B", "tie", "both bad"],
        "totals": {
            "judgments": 240,
            "regular_judgments": 240,
            "external_judgments": 0,
            "items": 20,
            "labelers": 13,
            "models": 2,
        },  # fmt: skip
        "groups": [{"name": g, "labelers": s, "judgments": 100} for g, s in sizes.items()],
        "hidden_groups": hidden,
        "agreement": {
            "all": all_block or _block(0.62, 0.81, 0.7),
            "groups": {g: _block(0.6, 0.8, 0.7) for g in names},
        },
        "between": {
            "groups": names,
            "majority_agreement": agree,
            "items_compared": [[20] * n for _ in range(n)],
            "alpha": 0.5,
            "pair_alpha": [[0.5] * n for _ in range(n)],
        },  # fmt: skip
        "contested": {
            "compared": 20,
            "tested": 2,
            "significant": 1,
            "items": [
                {
                    "item_id": 7,
                    "jsd": 1.0,
                    "p_value": 0.001,
                    "q_value": 0.01,
                    "significant": True,
                    "method": "fisher",
                    "sides": [_side("A", "A", [5, 0, 0, 0]), _side("B", "B", [0, 6, 0, 0])],
                },
                *(
                    [
                        {
                            "item_id": 9,
                            "jsd": 1.0,
                            "p_value": 0.001,
                            "q_value": 0.01,
                            "significant": True,
                            "method": "fisher",
                            "sides": [
                                _side("A", "A", [5, 0, 0, 0]),
                                _side("tiny", "B", [0, 3, 0, 0]),
                            ],
                        }
                    ]
                    if "tiny" in names
                    else []
                ),
            ],
        },  # fmt: skip
        "preferences": {
            "models": ["small", "chat"],
            "all": prefs,
            "groups": dict.fromkeys(names, prefs),
            "imported": None,
            "position": None,
        },  # fmt: skip
        "length_bias": {
            "unit": 100.0,
            "all": _length(0.55),
            "imported": None,
            "groups": {g: _length(0.61 if g == "B" else 0.52) for g in names},
        },  # fmt: skip
        "criteria": [],
        "labelers": [
            {
                "pseudonym": f"L-{i}",
                "flags": ["fast"] if i == 0 else [],
                "agreement": 0.8,
                "seconds_median": 30.0,
                "judgments": 20,
                "agreement_group": 0.8,
                "kappa": 0.5,
                "kappa_p_e": 0.4,
                "same_answer_share": 0.5,
                "first_shown_share": 0.5,
                "gold_accuracy": None,
                "gold_judged": 0,
                "screening_accuracy": None,
                "screening_judged": 0,
                "screened": False,
            }
            for i in range(13)
        ],  # fmt: skip
    }


def test_summary_says_what_the_figures_say():
    text = summary(payload(), 5, {7: "Should I   tell my boss\nabout the mistake?"})["sentences"]
    assert text[0].startswith("Two labelers judging the same item give the same answer 81%")
    assert "α (nominal) is 0.62: moderate agreement" in text[0]
    assert "Groups “A” and “B” agree on 80% of items" in text[1] and "over 20 items" in text[1]
    assert text[2] == (
        "They disagree most on item 7 (“Should I tell my boss about the mistake?”): "
        "“A” mostly chose A, “B” mostly chose B."
    )
    assert "Responses from chat win most often: 61% of their 60 comparisons" in text[3]
    assert text[4] == "The longer response wins 61% of the time for group “B”."
    assert text[5] == "1 of 13 labelers are flagged: see “Labeler quality”."


def test_prevalence_paradox_is_detected_and_explained():
    figures = payload(all_block=_block(0.02, 0.75, 0.71, p_e=0.74))
    notes = summary(figures, 5)["notes"]
    assert len(notes) == 1
    assert notes[0].startswith("Prevalence paradox (all labelers): α = 0.02")
    assert "75%" in notes[0] and "AC1 is 0.71" in notes[0] and "p_e = 0.74" in notes[0]


@pytest.mark.parametrize(
    ("alpha", "percent", "ac1"),
    [(0.62, 0.81, 0.7), (0.02, 0.5, 0.1), (0.3, 0.75, 0.71), (0.02, 0.75, 0.3)],
)
def test_no_paradox_note_when_the_metrics_agree(alpha, percent, ac1):
    assert summary(payload(all_block=_block(alpha, percent, ac1)), 5)["notes"] == []


def test_ordinal_well_above_nominal_is_explained():
    notes = summary(payload(all_block=_block(0.3, 0.6, 0.4, ordinal=0.7)), 5)["notes"]
    assert len(notes) == 1 and "α ordinal (0.70) is well above α nominal (0.30)" in notes[0]


def test_a_group_below_the_minimum_is_never_named():
    # A cached report from before a stricter minimum still holds "tiny" (3 labelers): with a
    # minimum of 5 nothing the researcher reads names it, though it disagrees most.
    figures = payload({"A": 6, "B": 7, "tiny": 3})
    assert visible_groups(figures, 5) == ["A", "B"]
    assert visible_groups(figures, 3) == ["A", "B", "tiny"]
    text = summary(figures, 5)
    assert "tiny" not in " ".join(text["sentences"] + text["notes"])
    assert "Groups “A” and “B” agree on 80%" in " ".join(text["sentences"])
    page = dashboard(figures, 5)
    assert "tiny" not in repr(page) and "tiny" not in report_csv(page)
    assert "tiny" in " ".join(summary(figures, 3)["sentences"])  # the check can fail


def test_summary_with_no_judgments_yet():
    figures = payload(all_block=_block(0.5, 0.5, 0.5))
    figures["agreement"]["all"]["percent_agreement"] = None
    figures["agreement"]["all"]["nominal"]["value"] = None
    figures["contested"]["items"] = []
    figures["labelers"] = []
    text = summary(figures, 5)["sentences"]
    assert text[0] == "Too few items have two or more labelers to measure agreement yet."
