"""Executing a run (`run_execute`, on a worker of the training queue) goes through
training/worker.py, as generation jobs do:
1. Claim it: queued -> running in one UPDATE. A redelivered message for a run that is not
   queued (running elsewhere, finished, cancelled) does nothing.
2. Run the trainer as a child process, `python -m training.ml <kind> --config config.json
   --data dataset.jsonl --output-dir <run dir>`, or `accelerate launch --multi_gpu
   --num_processes N -m training.ml ...` when CHORUS_TRAINING_GPUS > 1 (`trainer_command`).
3. Its progress lines become the run's step, phase and message and its metric points, written
   throttled with a heartbeat; its log goes to trainer.log. When the run is marked
   cancel-requested, a file CANCEL appears in the run directory: the trainer stops at its next
   step and saves what it has (if it ignores it, it is killed after a grace period).
4. The final state comes from the trainer's result line and exit status; a failure keeps the
   trainer's message and the last lines of its log in `error`. Nothing written is deleted.

A worker killed mid-run cannot say so: services/sweeps.py fails runs whose worker is lost.
"""

from __future__ import annotations

import logging
import math
import sys
from typing import Any

from django.conf import settings

from training.models import (
    TRAINER_LOG,
    RunMetric,
    RunStatus,
    TrainingRun,
)
from training.resources import (
    accelerate_config_path,
)
from training.worker import OnProgress, Outcome, job_claim, job_finish, run_child

logger = logging.getLogger(__name__)

DATASET_FILE, CONFIG_FILE, LOG_FILE = "dataset.jsonl", "config.json", TRAINER_LOG


def trainer_command(run: TrainingRun) -> list[str]:
    """The trainer's command line; several GPUs go through `accelerate launch`, with the run's
    Accelerate config file when it chose one (FSDP), else data-parallel over
    CHORUS_TRAINING_GPUS."""
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
    chosen = accelerate_config_path(run.config.get("accelerate_config") or "")
    if chosen is not None:  # e.g. FSDP over N GPUs: the file says how many processes
        return [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--config_file",
            str(chosen),
            *args,
        ]
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


def _metric_points(run: TrainingRun, step: int, metrics: dict[str, Any]) -> list[RunMetric]:
    return [
        RunMetric(run_id=run.pk, name=name[:100], step=step, value=float(value))
        for name, value in metrics.items()
        if isinstance(value, int | float) and math.isfinite(value)
    ]


def _progress(run: TrainingRun) -> OnProgress:
    """A trainer's progress line -> the run's fields and its metric points. A message lasts
    until the next one or the end of its phase (run_status_line reads them)."""

    last_phase = [run.phase]

    def on_progress(event: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        step = int(event.get("step", 0))
        phase = str(event.get("phase", ""))[:20]
        fields = {"step": step, "total_steps": event.get("total_steps"), "phase": phase}
        if event.get("message"):
            fields["message"] = str(event["message"])[:300]
        elif phase != last_phase[0]:
            fields["message"] = ""  # a phase's note ("reference log-probs 40/400") ends with it
        last_phase[0] = phase
        if event.get("phase") == "done":  # the final numbers arrive with the result
            return fields, []
        return fields, _metric_points(run, step, event.get("metrics") or {})

    return on_progress


def _outcome(outcome: Outcome) -> dict[str, Any]:
    """The run's final fields, from how its trainer ended."""
    result = outcome.result
    if not outcome.succeeded or result is None:
        status = RunStatus.CANCELLED if outcome.cancel_sent else RunStatus.FAILED
        return {"status": status, "error": outcome.failure("trainer")}
    cancelled = bool(result.get("cancelled"))
    fields: dict[str, Any] = {
        "status": RunStatus.CANCELLED if cancelled else RunStatus.SUCCEEDED,
        "final_metrics": result.get("metrics") or {},
        "error": "",
        "message": f"cancelled after {result.get('steps')} steps" if cancelled else "finished",
    }
    if result.get("steps") is not None:
        fields.update(step=result["steps"], total_steps=result.get("total_steps"))
    return fields


def run_execute(*, run_id: int, hostname: str) -> None:
    """Run a queued run's trainer to its end and record how it went (see the module doc)."""
    if not job_claim(TrainingRun, job_id=run_id, hostname=hostname, phase="setup"):
        status = TrainingRun.objects.filter(pk=run_id).values_list("status", flat=True).first()
        logger.warning("training run %s is %s, not queued; not running it again", run_id, status)
        return
    run = TrainingRun.objects.get(pk=run_id)
    try:
        outcome = run_child(
            run, trainer_command(run), work_dir=run.run_dir, log_name=LOG_FILE,
            on_progress=_progress(run),
        )  # fmt: skip
        fields = _outcome(outcome)
    except Exception as exc:
        logger.exception("training run %s: the worker failed", run_id)
        fields = {
            "status": RunStatus.FAILED,
            "error": f"The worker failed while running the trainer: {exc!r}",
        }
    job_finish(run, **fields)
