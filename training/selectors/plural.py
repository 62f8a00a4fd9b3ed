"""The run page's figures of the pluralistic reward methods (issue 15), from a reward run's
final metrics (training.ml.reward_methods writes them), groups below CHORUS_MIN_GROUP_SIZE
left out as everywhere on the page (`run_final_metrics` redacts them).

- group-conditioned: the matrix "conditioned on g, scored on h" and, with per-group models,
  the comparison with separate models: accuracy per group, parameters, training time;
- DPL: the pairs with the highest sigma, with how labelers split on them, and how they agree
  with the contested items of the admin report (annotation's cached agreement report);
- ODIN: each head's correlation with response length;
- ensembles: the combined reward's accuracy beside each member's, and its uncertainty where
  it is right vs wrong.
"""

from __future__ import annotations

from typing import Any

from annotation.selectors.items import contested_item_ids
from training.charts import heat_color, text_color
from training.ml.data import NO_GROUP, POOLED
from training.models import RunKind, TrainingRun
from training.selectors.runs import run_final_metrics

CONDITIONED = "conditioned"  # training.ml.reward_methods.CONDITIONED (no torch here)


def run_plural_report(run: TrainingRun) -> dict[str, Any]:
    """Everything the run page shows about its reward method; empty for other runs."""
    if run.kind != RunKind.REWARD or not run.final_metrics:
        return {}
    metrics = run_final_metrics(run)
    return {
        "method": metrics.get("method", "bt"),
        "conditioned": _conditioned(metrics),
        "comparison": _comparison(metrics),
        "dpl": _dpl(run, metrics.get("dpl")),
        "odin": metrics.get("odin"),
        "ensemble": _ensemble(metrics.get("ensemble")),
    }


def _label(group: str) -> str:
    return "no group" if group == NO_GROUP else group


def _conditioned(metrics: dict[str, Any]) -> dict[str, Any] | None:
    matrix = metrics.get("conditioned_matrix")
    if not matrix:
        return None
    columns = sorted({h for row in matrix.values() for h in row})
    return {
        "columns": [_label(h) for h in columns],
        "rows": [
            {
                "group": _label(g),
                "cells": [
                    {"value": v, "color": heat_color(v), "text": text_color(v)}
                    for v in (matrix[g].get(h) for h in columns)
                ],
            }
            for g in sorted(matrix)
        ],
    }


def _comparison(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The conditioned model beside separate per-group models (per_group runs)."""
    cross, costs = metrics.get("cross_group_accuracy") or {}, metrics.get("model_costs") or {}
    if metrics.get("method") != CONDITIONED or not cross or POOLED not in costs:
        return None
    own = cross.get(CONDITIONED, {})
    groups = sorted(g for g in cross if g not in (CONDITIONED, POOLED) and g in costs)
    separate = [costs[g] for g in groups]
    return {
        "rows": [
            {"group": _label(g), "conditioned": own.get(g), "separate": cross[g].get(g)}
            for g in groups
        ],
        "parameters": {
            "conditioned": costs[POOLED]["parameters"],
            "separate": sum(c["parameters"] for c in separate),
        },
        "seconds": {
            "conditioned": costs[POOLED]["seconds"],
            "separate": sum(c["seconds"] for c in separate),
        },
        "models": len(separate),
    }


def _run_contested(run: TrainingRun) -> set[int]:
    """The contested items of the run's projects in the admin report (its cached payload)."""
    return {i for project in run.projects.all() for i in contested_item_ids(project)}


def _dpl(run: TrainingRun, figures: dict[str, Any] | None) -> dict[str, Any] | None:
    if not figures:
        return None
    contested = _run_contested(run)
    pairs = []
    for pair in figures.get("top_pairs", []):
        total = pair["votes_a"] + pair["votes_b"]
        pairs.append({
            **pair, "contested": pair.get("item_id") in contested,
            "minority": min(pair["votes_a"], pair["votes_b"]) / total if total else 0.0,
            "groups": [(_label(g), a, b) for g, (a, b) in sorted(pair["groups"].items())],
        })  # fmt: skip
    with_item = [p for p in pairs if p.get("item_id") is not None]
    hits = sum(p["contested"] for p in with_item)
    return {
        **figures,
        "rows": pairs,
        "report_contested": len(contested),
        "listed_contested": hits,
        "agreement": hits / len(with_item) if with_item and contested else None,
    }


def _ensemble(figures: dict[str, Any] | None) -> dict[str, Any] | None:
    if not figures:
        return None
    return {
        **figures,
        "members": [
            {"name": f"member {k}", "accuracy": a}
            for k, a in enumerate(figures.get("member_accuracy", []))
        ],
    }
