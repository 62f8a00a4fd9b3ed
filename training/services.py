"""Every write of the training side: create, cancel and execute runs; fail runs whose worker is lost.

Executing a run (`run_execute`, on a worker of the training queue):
1. Claim it: queued -> running in one UPDATE. A redelivered message for a run that is not
   queued (running elsewhere, finished, cancelled) does nothing.
2. Launch the trainer as a subprocess, `python -m training.ml <kind> --config config.json
   --data dataset.jsonl --output-dir <run dir>`, or `accelerate launch --multi_gpu
   --num_processes N -m training.ml ...` when CHORUS_TRAINING_GPUS > 1. A crash or an
   out-of-memory kill ends the run, not the worker, and frees GPU memory; on Linux the trainer
   is killed if the worker dies (PR_SET_PDEATHSIG); training/launch.py, shared with generation jobs.
3. Read its JSON lines (stdout; its log goes to trainer.log). Progress and metric points are
   written at most every PROGRESS_SECONDS, a heartbeat every HEARTBEAT_SECONDS. When the run is
   marked cancel-requested, a file CANCEL appears in the run directory: the trainer stops at
   its next step and saves what it has (after CANCEL_GRACE_SECONDS it is killed).
4. The final state comes from the trainer's result line and exit status; a failure keeps the
   trainer's message and the last lines of its log in `error`. Nothing written is deleted.

A worker killed mid-run cannot say so. A running run whose heartbeat is older than
CHORUS_TRAINING_STALE_SECONDS is failed by `runs_fail_stale` (when runs are listed or viewed,
and when a worker starts); a worker starting under the same hostname fails the runs it had
(`runs_fail_orphaned`).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotation.models import LabelerGroup, Project
from training.datasets import DatasetSpec, dataset_write
from training.launch import exit_reason, kill, launch, log_tail, supervise
from training.ml.config import CONFIG_CLASSES, ConfigError, from_dict, to_dict
from training.models import RunKind, RunMetric, RunStatus, TrainingRun

logger = logging.getLogger(__name__)

DATASET_FILE, CONFIG_FILE, LOG_FILE, CANCEL_FILE = (
    "dataset.jsonl",
    "config.json",
    "trainer.log",
    "CANCEL",
)
PROGRESS_SECONDS = 1.0  # at most one progress write per second
HEARTBEAT_SECONDS = 5.0  # a sign of life at least this often, even when the trainer is quiet
CANCEL_POLL_SECONDS = 1.0  # how often the worker looks for a cancel request
CANCEL_GRACE_SECONDS = 300.0  # a trainer that ignores CANCEL this long is killed
LOG_TAIL_LINES = 20
# Set on the run, not in `hyperparameters`.
RUN_FIELDS_IN_CONFIG = ("base_model", "reward_model", "reward_rule", "per_group", "group_balance")


# --- create and cancel ---------------------------------------------------------------------


def run_config(
    *,
    kind: str,
    base_model: str,
    hyperparameters: dict[str, Any],
    per_group: bool = False,
    group_balance: bool = False,
    reward_run: TrainingRun | None = None,
    reward_rule: str = "",
) -> dict[str, Any]:
    """The trainer's full configuration, validated by training.ml.config (ValidationError if not)."""
    clash = sorted(set(hyperparameters) & set(RUN_FIELDS_IN_CONFIG))
    if clash:
        raise ValidationError(
            {"hyperparameters": f"set {', '.join(clash)} on the run, not in hyperparameters"}
        )
    data: dict[str, Any] = {**hyperparameters, "base_model": base_model}
    if kind == RunKind.REWARD:
        data.update(per_group=per_group, group_balance=group_balance)
    if reward_run is not None:
        data["reward_model"] = str(reward_run.run_dir)
    if reward_rule:
        data["reward_rule"] = reward_rule
    try:
        return to_dict(from_dict(CONFIG_CLASSES[kind], data))
    except ConfigError as exc:
        raise ValidationError({"hyperparameters": str(exc)}) from exc


def base_model_path(base_model: str) -> str:
    """A local directory as an absolute path (relative ones are from the project root, where the
    trainer runs); anything else is left as it is, a Hugging Face hub id."""
    path = Path(base_model).expanduser()
    local = path if path.is_absolute() else Path(settings.BASE_DIR) / path
    return (
        str(local.resolve())
        if local.is_dir() or base_model.startswith((".", "/", "~"))
        else base_model
    )


def _check_options(
    *,
    kind: str,
    base_model: str,
    per_group: bool,
    group_balance: bool,
    reward_run: TrainingRun | None,
    reward_rule: str,
) -> None:
    errors: dict[str, str] = {}
    looks_local = base_model.startswith(("/", "./", "../", "~"))
    if looks_local and not Path(base_model_path(base_model)).is_dir():
        errors["base_model"] = f"{base_model} is not a directory on this server."
    if per_group and kind != RunKind.REWARD:
        errors["per_group"] = "Per-group models are trained by reward runs only."
    if group_balance and kind not in (RunKind.REWARD, RunKind.DPO):
        errors["group_balance"] = "Group balancing applies to reward and DPO runs only."
    if kind in (RunKind.PPO, RunKind.GRPO):
        if reward_run is not None and (
            reward_run.kind != RunKind.REWARD or reward_run.status != RunStatus.SUCCEEDED
        ):
            errors["reward_run"] = "The reward model must come from a succeeded reward run."
        elif kind == RunKind.PPO and (reward_run is None or reward_rule):
            errors["reward_run"] = "PPO needs a succeeded reward run (and no rule)."
        elif kind == RunKind.GRPO and (reward_run is None) == (not reward_rule):
            errors["reward_run"] = "GRPO needs either a succeeded reward run or a rule, not both."
    elif reward_run is not None or reward_rule:
        errors["reward_run"] = "Only PPO and GRPO runs use a reward model or rule."
    if errors:
        raise ValidationError(errors)


def run_create(
    *,
    created_by: Any,
    kind: str,
    base_model: str,
    projects: Iterable[Project],
    labeler_groups: Iterable[LabelerGroup] = (),
    date_from: date | None = None,
    date_to: date | None = None,
    include_external: bool = True,
    tie_policy: str = "skip",
    both_bad_policy: str = "skip",
    per_group: bool = False,
    group_balance: bool = False,
    reward_run: TrainingRun | None = None,
    reward_rule: str = "",
    hyperparameters: dict[str, Any] | None = None,
    name: str = "",
) -> TrainingRun:
    """Validate a run, freeze its dataset into the run directory, and queue it."""
    projects, labeler_groups = list(projects), list(labeler_groups)
    if not projects:
        raise ValidationError({"projects": "Choose at least one project."})
    base_model = base_model_path(base_model.strip())
    options = dict(
        per_group=per_group,
        group_balance=group_balance,
        reward_run=reward_run,
        reward_rule=reward_rule,
    )
    _check_options(kind=kind, base_model=base_model, **options)
    config = run_config(
        kind=kind, base_model=base_model, hyperparameters=hyperparameters or {}, **options
    )
    run = TrainingRun(
        name=name, kind=kind, base_model=base_model, date_from=date_from, date_to=date_to,
        include_external=include_external, tie_policy=tie_policy, both_bad_policy=both_bad_policy,
        config=config, created_by=created_by, **options,
    )  # fmt: skip
    run.full_clean()
    try:
        with transaction.atomic():
            run.save()
            run.projects.set(projects)
            run.labeler_groups.set(labeler_groups)
            _snapshot(run, projects, labeler_groups)
    except BaseException:
        if run.pk:
            shutil.rmtree(run.run_dir, ignore_errors=True)
        raise
    from training.tasks import training_run_task

    transaction.on_commit(lambda: training_run_task.delay(run.pk))
    return run


def _snapshot(
    run: TrainingRun, projects: list[Project], labeler_groups: list[LabelerGroup]
) -> None:
    """Write the run's dataset and configuration files and record the counts."""
    run.artifacts_dir = str(Path(settings.CHORUS_RUNS_DIR).resolve() / str(run.pk))
    shutil.rmtree(run.run_dir, ignore_errors=True)  # left over from a database that was reset
    spec = DatasetSpec(
        project_ids=tuple(p.pk for p in projects),
        group_names=tuple(sorted(g.name for g in labeler_groups)),
        date_from=run.date_from,
        date_to=run.date_to,
        include_external=run.include_external,
        tie_policy=run.tie_policy,
        both_bad_policy=run.both_bad_policy,
        group_balance=run.group_balance and run.kind == RunKind.DPO,
        eval_fraction=run.config["eval_fraction"],
        seed=run.config["seed"],
    )
    counts = dataset_write(kind=run.kind, spec=spec, path=run.run_dir / DATASET_FILE)
    if not counts["train_rows"]:
        what = "training rows" if counts["rows"] else "rows"
        raise ValidationError(
            f"No {what}: nothing in the chosen projects, groups and dates gives {counts['format']} rows."
        )
    counts.update(projects=sorted(p.name for p in projects), groups=list(spec.group_names))
    (run.run_dir / CONFIG_FILE).write_text(json.dumps(run.config, indent=2, sort_keys=True))
    run.dataset_counts = counts
    run.save(update_fields=["artifacts_dir", "dataset_counts"])


def run_cancel(*, run: TrainingRun) -> TrainingRun:
    """A queued run is cancelled at once; a running one stops at the trainer's next step."""
    runs = TrainingRun.objects.filter(pk=run.pk)
    now = timezone.now()
    cancelled = runs.filter(status=RunStatus.QUEUED).update(
        status=RunStatus.CANCELLED,
        cancel_requested=True,
        finished_at=now,
        message="cancelled before it started",
    )
    if not cancelled and not runs.filter(status=RunStatus.RUNNING).update(cancel_requested=True):
        raise ValidationError("The run has already ended.")
    run.refresh_from_db()
    return run


# --- lost workers --------------------------------------------------------------------------


def _fail_lost(runs: Any, reason: Callable[[TrainingRun], str]) -> int:
    now, failed = timezone.now(), 0
    for run in runs.filter(status=RunStatus.RUNNING):
        failed += TrainingRun.objects.filter(
            pk=run.pk, status=RunStatus.RUNNING, heartbeat_at=run.heartbeat_at
        ).update(status=RunStatus.FAILED, error=reason(run), finished_at=now)
    if failed:
        logger.warning("marked %d training run(s) failed: worker lost", failed)
    return failed


def _since(run: TrainingRun) -> str:
    beat = run.heartbeat_at or run.started_at
    return f"{beat:%Y-%m-%d %H:%M:%S} UTC" if beat else "it started"


def runs_fail_stale() -> int:
    """Fail running runs whose worker has not been heard from in CHORUS_TRAINING_STALE_SECONDS."""
    cutoff = timezone.now() - timedelta(seconds=settings.CHORUS_TRAINING_STALE_SECONDS)
    stale = TrainingRun.objects.filter(heartbeat_at__lt=cutoff)
    return _fail_lost(
        stale,
        lambda r: f"worker lost: no heartbeat since {_since(r)} (worker {r.worker_hostname}).",
    )


def runs_fail_orphaned(*, hostname: str) -> int:
    """Fail the runs a worker of this hostname had: it has just (re)started, so they are dead."""
    mine = TrainingRun.objects.filter(worker_hostname=hostname)
    return _fail_lost(
        mine, lambda r: f"worker lost: {hostname} restarted; no heartbeat since {_since(r)}."
    )


# --- execute -------------------------------------------------------------------------------


def trainer_command(run: TrainingRun) -> list[str]:
    """The trainer's command line; several GPUs go through `accelerate launch`."""
    d = run.run_dir
    args = [
        "-m",
        "training.ml",
        run.kind,
        "--config",
        str(d / CONFIG_FILE),
        "--data",
        str(d / DATASET_FILE),
    ]
    args += ["--output-dir", str(d)]
    gpus = settings.CHORUS_TRAINING_GPUS
    if gpus > 1:
        return [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--multi_gpu",
            "--num_processes",
            str(gpus),
            *args,
        ]
    return [sys.executable, *args]


class _Tracker:
    """What the trainer has said since the last database write; writes it, throttled."""

    def __init__(self, run_id: int):
        self.run_id = run_id
        self.fields: dict[str, Any] = {}
        self.points: list[RunMetric] = []
        self.result: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.last_write = self.last_beat = -math.inf

    def handle(self, line: str) -> None:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            logger.warning("run %s: trainer printed a non-JSON line: %.200s", self.run_id, line)
            return
        kind = event.pop("event", None)
        if kind == "result":
            self.result = event
        elif kind == "error":
            self.error = event
        elif kind == "progress":
            self._progress(event)

    def _progress(self, event: dict[str, Any]) -> None:
        step = int(event.get("step", 0))
        self.fields.update(
            step=step, total_steps=event.get("total_steps"), phase=str(event.get("phase", ""))[:20]
        )
        if event.get("message"):
            self.fields["message"] = str(event["message"])[:300]
        if event.get("phase") != "done":  # the final numbers arrive with the result
            metrics = event.get("metrics") or {}
            self.points += [
                RunMetric(run_id=self.run_id, name=name[:100], step=step, value=float(value))
                for name, value in metrics.items()
                if isinstance(value, int | float) and math.isfinite(value)
            ]

    def write(self, force: bool = False) -> None:
        now = time.monotonic()
        due = (self.fields or self.points) and now - self.last_write >= PROGRESS_SECONDS
        if not (force or due or now - self.last_beat >= HEARTBEAT_SECONDS):
            return
        with transaction.atomic():
            TrainingRun.objects.filter(pk=self.run_id).update(
                heartbeat_at=timezone.now(), **self.fields
            )
            RunMetric.objects.bulk_create(self.points)
        self.fields, self.points = {}, []
        self.last_write = self.last_beat = now


def _launch(run: TrainingRun) -> subprocess.Popen[str]:
    return launch(trainer_command(run), cwd=settings.BASE_DIR, log_path=run.run_dir / LOG_FILE)


def _supervise(
    run: TrainingRun, proc: subprocess.Popen[str], tracker: _Tracker
) -> tuple[int, bool]:
    """Relay the trainer's lines to the database until it exits: (exit status, cancel sent)."""
    cancel_sent: float | None = None
    next_poll = 0.0

    def tick() -> None:
        nonlocal cancel_sent, next_poll
        tracker.write()
        now = time.monotonic()
        if cancel_sent is None and now >= next_poll:
            next_poll = now + CANCEL_POLL_SECONDS
            if TrainingRun.objects.filter(pk=run.pk, cancel_requested=True).exists():
                (run.run_dir / CANCEL_FILE).touch()
                cancel_sent = now
        elif cancel_sent is not None and now - cancel_sent > CANCEL_GRACE_SECONDS:
            logger.warning(
                "run %s: trainer ignored CANCEL for %.0f s; killing it", run.pk, now - cancel_sent
            )
            kill(proc)

    rc = supervise(proc, tracker.handle, tick)
    return rc, cancel_sent is not None


def _failure(rc: int, tracker: _Tracker, run: TrainingRun, cancelled: bool) -> dict[str, Any]:
    if rc >= 0 and tracker.error:
        why = f"The trainer stopped ({tracker.error.get('kind', 'internal')} error): {tracker.error.get('message')}"
    else:
        why = exit_reason(rc, "trainer", cancelled)
    tail = log_tail(run.run_dir / LOG_FILE, LOG_TAIL_LINES)
    error = why + (f"\n\nLast lines of {LOG_FILE}:\n{tail}" if tail else "")
    return {"status": RunStatus.CANCELLED if cancelled else RunStatus.FAILED, "error": error}


def _outcome(rc: int, tracker: _Tracker, run: TrainingRun, cancelled: bool) -> dict[str, Any]:
    result = tracker.result
    if rc != 0 or result is None:
        return _failure(rc, tracker, run, cancelled)
    status = RunStatus.CANCELLED if result.get("cancelled") else RunStatus.SUCCEEDED
    outcome = {"status": status, "final_metrics": result.get("metrics") or {}, "error": ""}
    if result.get("steps") is not None:
        outcome.update(step=result["steps"], total_steps=result.get("total_steps"))
    outcome["message"] = (
        f"cancelled after {result.get('steps')} steps" if result.get("cancelled") else "finished"
    )
    return outcome


def _claim(run_id: int, hostname: str) -> bool:
    now = timezone.now()
    return bool(
        TrainingRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
            status=RunStatus.RUNNING,
            started_at=now,
            heartbeat_at=now,
            worker_hostname=hostname[:200],
            phase="setup",
        )
    )


def run_execute(*, run_id: int, hostname: str) -> None:
    """Run a queued run's trainer to its end and record how it went (see the module doc)."""
    if not _claim(run_id, hostname):
        status = TrainingRun.objects.filter(pk=run_id).values_list("status", flat=True).first()
        logger.warning("training run %s is %s, not queued; not running it again", run_id, status)
        return
    run = TrainingRun.objects.get(pk=run_id)
    tracker = _Tracker(run.pk)
    try:
        rc, cancelled = _supervise(run, _launch(run), tracker)
        outcome = _outcome(rc, tracker, run, cancelled=cancelled)
    except Exception as exc:
        logger.exception("training run %s: the worker failed", run_id)
        outcome = {
            "status": RunStatus.FAILED,
            "error": f"The worker failed while running the trainer: {exc!r}",
        }
    tracker.write(force=True)
    now = timezone.now()
    TrainingRun.objects.filter(pk=run_id).update(finished_at=now, heartbeat_at=now, **outcome)
