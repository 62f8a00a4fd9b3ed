"""Reads of training runs: lists and pages (researchers and admins only; 404 for everyone else),
metric charts, the per-group report, and the run directory as a streamed zip.

Issue 11: the form's choices of a reward run's group models (`reward_group_choices`); the group
report reads the snapshot's groups, recorded at judgment time with one group per judgment."""

from __future__ import annotations

import re
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404, StreamingHttpResponse

from annotation.roles import is_researcher
from training.charts import LineChart, Series, downsample, heat_color, line_chart, text_color
from training.ml.data import POOLED
from training.ml.protocol import CANCEL_FILE
from training.models import RunKind, RunMetric, RunStatus, TrainingRun

CHART_POINTS = 300
# Charts of a run page: title -> which metric names go on it.
CHARTS = {
    "Loss": re.compile(r"(^|/)loss($|/)"),
    "Accuracy and reward": re.compile(r"accurac|^train/reward/mean$"),
}
ZIP_SKIP = {CANCEL_FILE, "ref_logps.pt"}
# What the snapshot counts as left out, in words (keys of dataset_counts["skipped"]).
SKIPPED_LABELS = {
    "tie": "ties",
    "both_bad": "both-bad judgments",
    "tied_ranking_pair": "tied pairs in rankings",
    "no_pair": "judgments without a pair",
    "empty_prompt": "prompts without turns",
    "duplicate_prompt": "repeated prompts",
}  # a cancel marker and DPO's reference cache are not artifacts


def run_list_for_user(user: Any) -> QuerySet[TrainingRun]:
    if not is_researcher(user):
        raise Http404("No training runs.")
    return TrainingRun.objects.select_related("created_by", "reward_run").prefetch_related(
        "projects"
    )


def run_get_for_user(user: Any, run_id: int) -> TrainingRun:
    try:
        return run_list_for_user(user).prefetch_related("labeler_groups").get(pk=run_id)
    except TrainingRun.DoesNotExist:
        raise Http404("No such training run.") from None


def reward_runs_usable() -> QuerySet[TrainingRun]:
    """Reward-model runs a PPO/GRPO run may optimise against."""
    return TrainingRun.objects.filter(kind=RunKind.REWARD, status=RunStatus.SUCCEEDED)


def reward_group_choices() -> list[tuple[str, str]]:
    """The run form's choices of which reward model to use: the pooled one, or a group's model
    of a usable per-group reward run (labelled with the runs that have one); small groups are
    not offered (TrainingRun.group_models)."""
    runs_of: dict[str, list[str]] = defaultdict(list)
    for run in reward_runs_usable().filter(per_group=True).order_by("pk"):
        for group in run.group_models():
            runs_of[group].append(str(run.pk))
    offered = [
        (g, f"group {g} (reward runs {', '.join(ids)})") for g, ids in sorted(runs_of.items())
    ]
    return [("", "Pooled model (every group)"), *offered]


def run_metric_series(run: TrainingRun, limit: int = CHART_POINTS) -> dict[str, Series]:
    """metric name -> [(step, value)], at most `limit` points each. A per-group reward run's
    group models have their own series, "group/<name>/train/...", each from step 1 (issue 11);
    those of groups too small to show are left out."""
    series: dict[str, Series] = defaultdict(list)
    hidden = tuple(f"group/{g}/" for g in run.hidden_groups)
    for name, step, value in RunMetric.objects.filter(run=run).values_list("name", "step", "value"):
        if not (hidden and name.startswith(hidden)):
            series[name].append((step, value))
    return {name: downsample(points, limit) for name, points in sorted(series.items())}


def run_charts(series: dict[str, Series]) -> list[LineChart]:
    charts = []
    for title, pattern in CHARTS.items():
        chart = line_chart(title, {n: p for n, p in series.items() if pattern.search(n)})
        if chart is not None:
            charts.append(chart)
    return charts


def run_hidden_groups(run: TrainingRun) -> set[str]:
    """Groups with fewer labelers in the snapshot than CHORUS_MIN_GROUP_SIZE (identities)."""
    return run.hidden_groups


def run_group_report(run: TrainingRun) -> dict[str, Any]:
    """Held-out accuracy per labeler group and, for per-group reward runs, the cross-group matrix
    (row: the model trained on a group, column: the group whose held-out pairs it is scored on).
    Small groups are left out and counted in `hidden`. Groups are the snapshot's: the membership
    recorded on each judgment when it was made, one group per judgment for labelers in several
    (training/datasets.py), so rows and columns partition the pairs (issue 11)."""
    hidden = run_hidden_groups(run)
    accuracy = run.final_metrics.get("group_accuracy") or {}
    rows_per_group = run.dataset_counts.get("rows_per_group", {})
    groups = sorted(g for g in accuracy if g not in hidden)  # jsonb does not keep key order
    report: dict[str, Any] = {
        "accuracy": [
            {
                "group": g,
                "value": accuracy[g],
                "color": heat_color(accuracy[g]),
                "rows": rows_per_group.get(g),
            }
            for g in groups
        ],
        "hidden": sorted(hidden & set(accuracy)),
        "min_group_size": settings.CHORUS_MIN_GROUP_SIZE,
        "matrix": None,
    }
    cross = run.final_metrics.get("cross_group_accuracy")
    if cross:
        models = [m for m in cross if m == POOLED or m not in hidden]
        report["matrix"] = {
            "columns": groups,
            "rows": [
                {"model": m, "cells": [_cell(cross[m].get(g)) for g in groups]}
                for m in sorted(models, key=lambda m: (m != POOLED, m))
            ],
        }
    return report


def _cell(value: float | None) -> dict[str, Any]:
    return {"value": value, "color": heat_color(value), "text": text_color(value)}


def run_skipped(run: TrainingRun) -> list[tuple[int, str]]:
    skipped = run.dataset_counts.get("skipped", {})
    return [(n, SKIPPED_LABELS.get(reason, reason)) for reason, n in sorted(skipped.items()) if n]


def run_final_scalars(run: TrainingRun) -> list[tuple[str, float]]:
    """The result's scalar metrics, except per-group ones (shown in the group report)."""
    return [
        (name, value)
        for name, value in sorted(run.final_metrics.items())
        if isinstance(value, int | float)
        and not isinstance(value, bool)
        and not name.startswith("eval/accuracy/")
    ]


def run_has_artifacts(run: TrainingRun) -> bool:
    return not run.is_active and (run.run_dir / "config.json").exists()


class _Sink:
    """A write-only file for zipfile that hands back what was written since the last drain."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.offset = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self.offset

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def run_artifact_chunks(run: TrainingRun, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """The run directory as a zip, produced piece by piece (never whole in memory)."""
    root: Path = run.run_dir
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:  # type: ignore[arg-type]
        for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name not in ZIP_SKIP):
            name = f"run-{run.pk}/{path.relative_to(root).as_posix()}"
            with (
                open(path, "rb") as source,
                archive.open(name, "w", force_zip64=path.stat().st_size > 2**30) as target,
            ):
                while chunk := source.read(chunk_size):
                    target.write(chunk)
                    yield sink.drain()
    yield sink.drain()


def run_artifacts_download(run: TrainingRun) -> StreamingHttpResponse:
    """The run directory as a zip attachment, streamed (page and API); 404 while it has none."""
    if not run_has_artifacts(run):
        raise Http404("The run has no artifacts yet.")
    response = StreamingHttpResponse(run_artifact_chunks(run), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="chorus-run-{run.pk}.zip"'
    return response
