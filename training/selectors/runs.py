"""Reads of training runs: lists and pages (researchers and admins only; 404 for everyone else),
metric charts, the per-group report, and the run directory as a streamed zip.

Issue 11: "what did the model learn?" (`run_learning_report`: the model beside its controls
and a verdict in plain words); the form's choices of a reward run's group models (`reward_group_choices`); the group
report reads the snapshot's groups, recorded at judgment time with one group per judgment."""

from __future__ import annotations

import json
import math
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from django.db.models import Q, QuerySet
from django.http import Http404, StreamingHttpResponse

from annotation.privacy import mentions, redact
from annotation.roles import is_researcher
from annotation.selectors.labelers import min_group_size
from training.charts import (
    SMOOTHING_DEFAULT,
    LineChart,
    Series,
    downsample,
    heat_color,
    line_chart,
    text_color,
)
from training.ml import controls as ctl
from training.ml.data import NO_GROUP, POOLED
from training.ml.protocol import CANCEL_FILE
from training.models import (
    RANDOM_RULE,
    TRAINER_LOG,
    RunKind,
    RunMetric,
    RunStatus,
    TrainingRun,
)

CHART_POINTS = 300
# Charts of a run page: title -> which metric names go on it.
CHARTS = {
    "Loss": re.compile(r"^(?!train/robust/).*(^|/)loss($|/)"),
    "Accuracy and reward": re.compile(r"accurac|^train/reward/mean$"),
    # group-robust DPO (issue 15): each group's batch loss and the adversary's weight alpha
    "Loss per group (group-robust DPO)": re.compile(r"^train/robust/loss/"),
    "Group weights alpha (group-robust DPO)": re.compile(r"^train/robust/alpha/"),
    # latent groups (issue 15): the EM's mean log-likelihood per round
    "EM log-likelihood (latent groups)": re.compile(r"^latent/loglik$"),
}
# Per-batch metrics (a model's "train/..." curves): drawn smoothed over their faint raw line.
BATCH_METRIC = re.compile(r"(^|/)train/")
ZIP_SKIP = {CANCEL_FILE, "ref_logps.pt"}
# The run's own files that name labeler groups (not the model's): rewritten in the zip when the
# run has small groups (run_artifact_chunks).
REDACTED_FILES = {"dataset.jsonl", TRAINER_LOG, "metrics.json"}
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
    of a usable per-group reward run or a group of a group-conditioned one (labelled with the
    runs that have one); small groups are not offered (TrainingRun.group_models)."""
    runs_of: dict[str, list[str]] = defaultdict(list)
    conditioned = Q(config__method="conditioned")
    for run in reward_runs_usable().filter(Q(per_group=True) | conditioned).order_by("pk"):
        for group in sorted(set(run.group_models()) | set(run.conditioned_groups())):
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
    hidden = run_hidden_groups(run)
    for name, step, value in RunMetric.objects.filter(run=run).values_list("name", "step", "value"):
        if not mentions(name, hidden):  # a small group's curve (eval/accuracy/<group>)
            series[name].append((step, value))
    return {name: downsample(points, limit) for name, points in sorted(series.items())}


def run_has_batch_curves(series: dict[str, Series]) -> bool:
    """Whether the run page offers smoothing: some per-batch curve has points to smooth."""
    return any(BATCH_METRIC.search(name) and len(points) > 2 for name, points in series.items())


def run_charts(series: dict[str, Series], smoothing: float = SMOOTHING_DEFAULT) -> list[LineChart]:
    """The run page's charts; per-batch curves smoothed by `smoothing` (an EMA factor)."""
    charts = []
    batch = [n for n in series if BATCH_METRIC.search(n)]
    for title, pattern in CHARTS.items():
        chosen = {n: p for n, p in series.items() if pattern.search(n)}
        chart = line_chart(title, chosen, smoothed=batch, smoothing=smoothing)
        if chart is not None:
            charts.append(chart)
    return charts


def run_hidden_groups(run: TrainingRun) -> set[str]:
    """Groups with fewer labelers in the snapshot than CHORUS_MIN_GROUP_SIZE (identities)."""
    return run.hidden_groups


def run_dataset_counts(run: TrainingRun) -> dict[str, Any]:
    """The snapshot's counts as researchers see them: small groups' rows and sizes left out
    (annotation.privacy), counted in `hidden_groups`. The groups the researcher chose for the
    run (`groups`) stay as chosen: their figures are what is hidden."""
    hidden = run_hidden_groups(run)
    counts = redact(run.dataset_counts, hidden)
    if "groups" in run.dataset_counts:
        counts["groups"] = run.dataset_counts["groups"]
    return {**counts, "hidden_groups": len(hidden)}


def run_final_metrics(run: TrainingRun) -> dict[str, Any]:
    """The trainer's result as researchers see it: small groups' figures and models left out."""
    return dict(redact(run.final_metrics, run_hidden_groups(run)))


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
        "hidden": len(hidden & set(accuracy)),  # a count: never the small groups' names
        "min_group_size": min_group_size(),
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


# Where each kind keeps its held-out accuracy when a run has no "controls" table (older runs).
MODEL_ACCURACY = {RunKind.REWARD: "eval/accuracy", RunKind.DPO: "eval/rewards/accuracies"}
# GRPO final metrics compared with the random-reward control's (the run's reward on its own
# samples vs the same reward on the control's samples, logged as the control's monitor).
CONTROL_ROWS = (
    ("Reward it was trained on (final step)", "train/reward/raw", "train/reward/raw"),
    ("The run's reward on the samples (final step)", "train/reward/raw", "train/monitor/mean"),
    ("Completion length (tokens)", "train/completion_length", "train/completion_length"),
    ("KL to the reference", "train/kl", "train/kl"),
)


def run_learning_report(run: TrainingRun) -> dict[str, Any]:
    """What did the model learn? (issue 11) One verdict for every kind of run, in plain words.

    Reward and DPO runs: held-out accuracy of the model (DPO: its implicit reward) beside the
    length-only baseline and the shuffled-label control (reward runs), overall and per group,
    groups below CHORUS_MIN_GROUP_SIZE left out (counted in `hidden`) like the group report;
    the verdict says "learned nothing" when the accuracy is within two standard errors of 0.5
    or of the length baseline (training.ml.controls.learning_verdict). GRPO runs: the run beside
    its latest finished random-reward control (same seed, budget, data), compared on the run's
    reward (the control logs it as its monitor reward); `can_start_control` when the run may
    have one. PPO: no control yet, no verdict."""
    report: dict[str, Any] = {
        "kind": None, "rows": [], "hidden": [], "verdict": None, "comparison": None,
        "controls": [], "control_of": None, "can_start_control": False,
    }  # fmt: skip
    metrics = run.final_metrics or {}
    if run.kind in MODEL_ACCURACY:
        report["kind"] = "pairs"
        if not metrics:
            return report
        table = metrics.get("controls") or {
            ctl.OVERALL: {
                "model": metrics.get(MODEL_ACCURACY[run.kind]),
                "n": metrics.get("eval/pairs") or 0,
                "length": None, "shuffled": None, "shuffled_std": None,
            }
        }  # fmt: skip
        hidden = run_hidden_groups(run)
        # all pairs first, then the groups by name (jsonb keeps no key order)
        for key, row in sorted(table.items(), key=lambda kv: (kv[0] != ctl.OVERALL, kv[0])):
            if key in hidden:
                continue
            verdict = ctl.learning_verdict(model=row["model"], n=row["n"], length=row["length"])
            label = "All held-out pairs" if key == ctl.OVERALL else key
            report["rows"].append(
                {**row, "group": key, "se": verdict["se"], "level": verdict["level"],
                 "label": "no group" if key == NO_GROUP else label}
            )  # fmt: skip
        report["hidden"] = sorted(hidden & set(table))
        overall = table.get(ctl.OVERALL, {})
        report["verdict"] = ctl.learning_verdict(
            model=overall.get("model"), n=overall.get("n") or 0, length=overall.get("length")
        )
        return report
    if run.kind != RunKind.GRPO:
        return report
    report["kind"] = "policy"
    report["control_of"] = run.control_of
    if run.control_of_id is not None:
        return report
    report["can_start_control"] = run.reward_rule != RANDOM_RULE
    controls = list(run.controls.order_by("-created_at", "-pk"))
    report["controls"] = controls
    done = next((c for c in controls if c.status == RunStatus.SUCCEEDED), None)
    if done is None or not metrics:
        return report
    theirs = done.final_metrics or {}
    report["comparison"] = {
        "control": done,
        "rows": [
            {"label": label, "run": metrics.get(mine), "control": theirs.get(other)}
            for label, mine, other in CONTROL_ROWS
        ],
        "chart": line_chart(
            "The run's reward: the run vs its random-reward control",
            {
                f"{run} (trained on it)": _points(run, "train/reward/raw"),
                f"{done} (random reward)": _points(done, "train/monitor/mean"),
            },
        ),
    }
    spreads = [metrics.get("train/reward/raw_std"), theirs.get("train/monitor/std")]
    n = (run.config.get("batch_size") or 0) * (run.config.get("num_generations") or 0)
    report["verdict"] = ctl.control_verdict(
        run_value=metrics.get("train/reward/raw"),
        control_value=theirs.get("train/monitor/mean"),
        spread=None if None in spreads else math.sqrt(sum(v * v for v in spreads)),  # type: ignore[operator]
        n=n,
    )
    return report


def _points(run: TrainingRun, name: str) -> Series:
    points = RunMetric.objects.filter(run=run, name=name).order_by("step")
    return downsample(list(points.values_list("step", "value")), CHART_POINTS)


def _cell(value: float | None) -> dict[str, Any]:
    return {"value": value, "color": heat_color(value), "text": text_color(value)}


def run_skipped(run: TrainingRun) -> list[tuple[int, str]]:
    skipped = run.dataset_counts.get("skipped", {})
    return [(n, SKIPPED_LABELS.get(reason, reason)) for reason, n in sorted(skipped.items()) if n]


def run_final_scalars(run: TrainingRun) -> list[tuple[str, float]]:
    """The result's scalar metrics, except per-group ones (shown in the group report)."""
    return [
        (name, value)
        for name, value in sorted(run_final_metrics(run).items())
        if isinstance(value, int | float)
        and not isinstance(value, bool)
        and not name.startswith("eval/accuracy/")
        and not name.startswith("controls/")
    ]


# What a run is doing, by phase (training.ml.progress.PHASES).
PHASE_WORDS = {
    "setup": "setting up",
    "ref_logps": "computing reference log-probs",
    "rollout": "sampling rollouts",
    "eval": "evaluating",
    "save": "saving",
    "done": "done",
}
# A saved Hugging Face model has one of these weight files.
MODEL_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
LOG_TAIL_BYTES = 256 * 1024  # the log page shows at most this much of the end


def run_status_line(run: TrainingRun) -> str:
    """What the run is doing, following its phase: "computing reference log-probs 120/400
    pairs", then "training step 30/150" (with the model it trains, for per-group runs), ...;
    once ended, how far it got."""
    of = f"/{run.total_steps}" if run.total_steps else ""
    if run.status == RunStatus.QUEUED:
        return "waiting for a training worker"
    if not run.is_active:
        steps = f"step {run.step} of {run.total_steps}" if run.total_steps else f"step {run.step}"
        model = "pooled model: " if run.per_group else ""  # each group model has its curves
        return f"{run.message or run.get_status_display()} · {model}{steps}"
    if run.phase in ("train", "rollout"):
        line = f"training step {run.step}{of}"
        return f"{line} · {run.message}" if run.message else line
    words = PHASE_WORDS.get(run.phase, run.phase)
    if run.phase == "ref_logps" and run.message:
        return run.message
    return f"{words} · {run.message}" if run.message else words


def run_has_artifacts(run: TrainingRun) -> bool:
    """Whether the run directory may be downloaded (as a zip): once the run has ended."""
    return not run.is_active and (run.run_dir / "config.json").exists()


def run_has_model(run: TrainingRun) -> bool:
    """Whether the run saved a model (its weights are in the run directory)."""
    return not run.is_active and any((run.run_dir / name).is_file() for name in MODEL_FILES)


def run_log_path(run: TrainingRun) -> Path | None:
    """The trainer's log, inside the run directory (None if it has none, or if the name leads
    out of the directory, e.g. through a link)."""
    root = run.run_dir.resolve()
    path = run.log_path.resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


def run_log_text(run: TrainingRun, limit: int = LOG_TAIL_BYTES) -> tuple[str, bool]:
    """The end of the trainer's log as researchers see it (lines naming a small group dropped,
    as in the zip), and whether it was cut; 404 when there is no log."""
    path = run_log_path(run)
    if path is None:
        raise Http404("This run has no log.")
    hidden = run_hidden_groups(run)
    with open(path, "rb") as source:
        size = source.seek(0, 2)
        source.seek(max(0, size - limit))
        if size > limit:
            source.readline()  # start at a whole line
        text = b"".join(_redacted(source, TRAINER_LOG, hidden, 1 << 20)).decode("utf-8", "replace")
    return text, size > limit


def run_log_download(run: TrainingRun) -> StreamingHttpResponse:
    """The whole trainer log as a text attachment, small groups' lines dropped."""
    path = run_log_path(run)
    if path is None:
        raise Http404("This run has no log.")
    hidden = run_hidden_groups(run)

    def chunks() -> Iterator[bytes]:
        with open(path, "rb") as source:
            yield from _redacted(source, TRAINER_LOG, hidden, 1 << 20)

    response = StreamingHttpResponse(chunks(), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="chorus-run-{run.pk}-trainer.log"'
    return response


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
    hidden = run_hidden_groups(run)
    skip_dirs = [
        root / d for g, d in (run.final_metrics.get("group_dirs") or {}).items() if g in hidden
    ]
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:  # type: ignore[arg-type]
        for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name not in ZIP_SKIP):
            if any(path.is_relative_to(d) for d in skip_dirs):
                continue  # a small group's model
            name = f"run-{run.pk}/{path.relative_to(root).as_posix()}"
            with (
                open(path, "rb") as source,
                archive.open(name, "w", force_zip64=path.stat().st_size > 2**30) as target,
            ):
                redact_it = hidden and path.parent == root and path.name in REDACTED_FILES
                for chunk in _redacted(
                    source, path.name, hidden if redact_it else set(), chunk_size
                ):
                    target.write(chunk)
                    yield sink.drain()
    yield sink.drain()


def _redacted(source: BinaryIO, name: str, hidden: set[str], chunk_size: int) -> Iterator[bytes]:
    """A run file's bytes; with `hidden` groups, small groups removed (annotation.privacy):
    from the whole JSON of metrics.json, from each JSON line of the dataset and the log (a plain
    log line that names one is dropped)."""
    if not hidden:
        while chunk := source.read(chunk_size):
            yield chunk
        return
    if name.endswith(".json"):
        value = redact(json.loads(source.read()), hidden)
        yield json.dumps(value, indent=2, sort_keys=True).encode()
        return
    for line in source:
        try:
            value = json.loads(line)
        except ValueError:
            text = line.decode("utf-8", "replace")  # a plain log line: dropped if it names one
            yield b"" if any(g in text for g in hidden) else line
            continue
        yield (json.dumps(redact(value, hidden), ensure_ascii=False) + "\n").encode()


def run_artifacts_download(run: TrainingRun) -> StreamingHttpResponse:
    """The run directory as a zip attachment, streamed (page and API); 404 while it has none."""
    if not run_has_artifacts(run):
        raise Http404("The run has no artifacts yet.")
    response = StreamingHttpResponse(run_artifact_chunks(run), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="chorus-run-{run.pk}.zip"'
    return response


def run_memory_estimate(run: TrainingRun) -> dict[str, Any] | None:
    """The run's memory estimate per GPU (training.resources), as the API shows it."""
    from training.resources import estimate_output, memory_estimate

    config = {**run.config, "base_model": run.base_model}
    return estimate_output(memory_estimate(kind=run.kind, config=config))
