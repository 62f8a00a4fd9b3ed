"""Reads of a model's lineage: the run, its parent, the data snapshot and the models that wrote
it, the labelers behind it (per group, counts only), its evaluations, and what was made from it.
Researchers and admins only (404 for everyone else)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from annotation.models import ItemCompletion
from training.models import GenerationJob, TrainingRun
from training.selectors.evaluation import evaluation_projects, evaluation_report, model_labels
from training.selectors.runs import run_get_for_user, run_hidden_groups


def _snapshot(run: TrainingRun) -> dict[str, Any]:
    counts = run.dataset_counts or {}
    sizes = counts.get("labelers_per_group", {})
    rows = counts.get("rows_per_group", {})
    small = run_hidden_groups(run)
    return {
        "projects": list(run.projects.all()),
        "judgments": counts.get("judgments"),
        "rows": counts.get("rows"),
        "groups": [
            {"group": g, "rows": rows.get(g, 0), "labelers": sizes.get(g)}
            for g in sorted(rows)
            if g not in small
        ],
        "hidden_groups": len(small),  # a count: never the small groups' names
        "labeler_groups": [g.name for g in run.labeler_groups.all()],  # as the researcher chose
    }


def _writers(run: TrainingRun) -> list[dict[str, Any]]:
    """Which models wrote the candidates in the run's projects (the previous rounds)."""
    rows = (
        ItemCompletion.objects.filter(item__project__in=run.projects.all())
        .values("completion__source_model").annotate(n=Count("completion", distinct=True)).order_by("-n")
    )  # fmt: skip
    keys = [r["completion__source_model"] or "(imported)" for r in rows]
    labels = model_labels(keys)
    return [
        {"key": k, "label": labels[k], "completions": r["n"]}
        for k, r in zip(keys, rows, strict=True)
    ]


def _flipped(row: dict[str, Any]) -> dict[str, Any]:
    """The same win-rate row seen from the opponent's side."""
    return {
        **row, "model": row["opponent"], "opponent": row["model"], "label": row["opponent_label"],
        "opponent_label": row["label"], "wins": row["losses"], "losses": row["wins"],
        "rate": 1 - row["rate"], "low": 1 - row["high"], "high": 1 - row["low"],
        "x": {"low": 200 - row["x"]["high"], "rate": 200 - row["x"]["rate"], "high": 200 - row["x"]["low"], "width": row["x"]["width"]},
    }  # fmt: skip


def _evaluations(key: str) -> list[dict[str, Any]]:
    found = []
    for project in evaluation_projects().filter(prompts__completions__source_model=key).distinct():
        report = evaluation_report(project)
        rows = [
            r if r["model"] == key else _flipped(r)
            for r in report["overall"]
            if key in (r["model"], r["opponent"])
        ]
        rank = next((i + 1 for i, r in enumerate(report["leaderboard"]) if r["model"] == key), None)
        found.append(
            {
                "project": project,
                "rows": rows,
                "labels": report["labels"],
                "rank": rank,
                "of": len(report["leaderboard"]),
            }
        )
    return found


def lineage(user: Any, run_id: int) -> dict[str, Any]:
    """A model's history: the run, its parent (the model it started from, if a run), the data
    snapshot and the models that wrote it, the labelers behind it (per group, counts only), the
    evaluations of the model, and what was made from it."""
    run = run_get_for_user(user, run_id)
    parent = (
        TrainingRun.objects.filter(artifacts_dir=run.base_model).exclude(pk=run.pk).first()
        if run.base_model
        else None
    )
    key = f"run:{run.pk}"
    return {
        "run": run,
        "key": key,
        "parent": parent,
        "snapshot": _snapshot(run),
        "writers": _writers(run),
        "evaluations": _evaluations(key),
        "children": list(
            TrainingRun.objects.filter(base_model=str(run.run_dir)).exclude(pk=run.pk)
        ),
        "jobs": [
            j
            for j in GenerationJob.objects.select_related("project")[:500]
            if any(s.get("label") == key for s in j.sources)
        ],
    }
