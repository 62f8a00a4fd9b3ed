"""Reads of a run's pluralistic-alignment figures (issue 15) for its page and API: the group
weights of group-robust DPO (training.ml.robust_dpo) and the latent groups found by EM over
labelers (training.ml.latent_groups) against the declared groups.

Declared groups below CHORUS_MIN_GROUP_SIZE are left out of every table and counted (as in the
group report); clusters are the trainer's, numbered from 1, and say nothing about attributes.
Labelers appear only as the counts of each cell: pseudonyms stay in the run's files.
"""

from __future__ import annotations

from typing import Any

from training.charts import heat_color, text_color
from training.ml.data import NO_GROUP
from training.models import TrainingRun


def run_robust_report(run: TrainingRun) -> dict[str, Any] | None:
    """Group-robust DPO's final group weights alpha (largest first), or None for other runs."""
    alpha = (run.final_metrics or {}).get("robust_alpha")
    if not run.config.get("group_robust") or not alpha:
        return None
    hidden = run.hidden_groups
    shown = sorted(((g, a) for g, a in alpha.items() if g not in hidden), key=lambda ga: -ga[1])
    return {
        "alpha": [{"group": _label(g), "value": a} for g, a in shown],
        "hidden": len(hidden & set(alpha)),
        "eta": run.config.get("robust_eta"),
    }


def run_latent_report(run: TrainingRun) -> dict[str, Any] | None:
    """The latent groups: cluster sizes, the contingency table against the declared groups
    (declared group per row, labelers per cluster), the adjusted Rand index, each cluster
    model's held-out accuracy on its labelers' pairs beside the pooled model's, and the EM
    history; None for runs without them."""
    latent = (run.final_metrics or {}).get("latent_groups")
    if not latent:
        return None
    k, hidden = int(latent["k"]), run.hidden_groups
    table = latent.get("contingency") or {}
    shown = {g: row for g, row in sorted(table.items()) if g not in hidden}
    accuracy = latent.get("eval_accuracy") or {}
    return {
        "k": k,
        "clusters": list(range(1, k + 1)),
        "sizes": latent.get("sizes") or [],
        "labelers": latent.get("labelers", 0),
        "anonymous_rows": latent.get("anonymous_rows", 0),
        "ari": latent.get("ari"),
        "declared": any(g != NO_GROUP for g in table),
        "contingency": [
            {"group": _label(g), "cells": [_count_cell(n, sum(row)) for n in row]}
            for g, row in shown.items()
        ],
        "hidden": len(hidden & set(table)),
        "accuracy": [
            {"cluster": c, **accuracy[str(c)]} for c in range(1, k + 1) if str(c) in accuracy
        ],
        "history": latent.get("history") or [],
    }


def _label(group: str) -> str:
    return "no group" if group == NO_GROUP else group


def _count_cell(n: int, total: int) -> dict[str, Any]:
    share = n / total if total else None
    return {"n": n, "color": heat_color(share), "text": text_color(share)}
