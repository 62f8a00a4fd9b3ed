"""Writes of training runs: create (validate, freeze the dataset, queue), cancel, execute.

Executing a run (`run_execute`, on a worker of the training queue) goes through
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

A GRPO run's random-reward control (issue 11, `run_control_create`) is a copy of it with the
same seed, budget, hyperparameters and frozen dataset file, the reward rule "random" (seeded
with the run's seed), and the original reward kept as the trainer's monitor reward (logged,
never trained on), so the run page can compare the two on the same reward.

A worker killed mid-run cannot say so: services/sweeps.py fails runs whose worker is lost.

A PPO/GRPO run optimises against a succeeded reward run's pooled model or, with `reward_group`
(issue 11), against one of its per-group models: the trainer lists them in the run's result as
`group_dirs` (group name -> groups/NN-slug); only groups with CHORUS_MIN_GROUP_SIZE labelers
are accepted, as only those are shown (TrainingRun.group_models).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from annotation.models import LabelerGroup, Project
from config.dispatch import dispatch_on_commit
from training.datasets import DatasetSpec, dataset_write
from training.ml.config import CONFIG_CLASSES, ConfigError, check_fields, from_dict, to_dict
from training.ml.memory import refusal
from training.ml.presets import preset_names, preset_values
from training.models import (
    RANDOM_RULE,
    TRAINER_LOG,
    RunKind,
    RunMetric,
    RunStatus,
    TrainingRun,
)
from training.paths import model_resolve
from training.resources import (
    accelerate_config_names,
    accelerate_config_path,
    estimate_output,
    memory_estimate,
)
from training.worker import OnProgress, Outcome, job_cancel, job_claim, job_finish, run_child

logger = logging.getLogger(__name__)

DATASET_FILE, CONFIG_FILE, LOG_FILE = "dataset.jsonl", "config.json", TRAINER_LOG
# Set on the run, not in `hyperparameters`.
RUN_FIELDS_IN_CONFIG = (
    "base_model", "reward_model", "reward_rule", "per_group", "group_balance", "method",
    "reward_group",
)  # fmt: skip
# A config field set on the run under another name.
RUN_FIELD_NAMES = {"method": "reward_method"}
POOLED_REWARD = "pooled"  # `reward_group`'s name for the reward run's pooled model (stored as "")


# --- create and cancel ---------------------------------------------------------------------


@dataclass(frozen=True)
class Hyperparameters:
    """A run's trainer settings beyond the run's own fields, checked by name and type against
    the trainer's config class (training.ml.config); their ranges are checked when the full
    config is built (`run_config`). Made by `hyperparameters_parse`."""

    kind: str
    values: Mapping[str, Any]


def hyperparameters_parse(
    *, kind: str, values: Mapping[str, Any], preset: str = ""
) -> Hyperparameters:
    """Hyperparameters for a run of `kind` (ValidationError on "hyperparameters" if not): a named
    preset's (training.ml.presets; ValidationError on "preset" if unknown), overridden by
    `values`."""
    if preset:
        try:
            values = {**preset_values(kind, preset), **values}
        except KeyError:
            names = ", ".join(preset_names())
            raise ValidationError(
                {"preset": f"unknown preset {preset!r} (presets: {names})"}
            ) from None
    clash = sorted(set(values) & set(RUN_FIELDS_IN_CONFIG))
    if clash:
        own = RUN_FIELD_NAMES.get(clash[0], clash[0])
        raise ValidationError(
            {f"hyperparameters.{clash[0]}": f"set {own} on the run, not in hyperparameters"}
        )
    try:
        check_fields(CONFIG_CLASSES[kind], dict(values))
    except ConfigError as exc:
        raise hyperparameter_error(exc, values) from exc
    return Hyperparameters(kind=kind, values=dict(values))


def hyperparameter_error(exc: ConfigError, values: Mapping[str, Any]) -> ValidationError:
    """A trainer config's error as a field error: `hyperparameters.<key>` when a key the user
    gave is to blame, else `hyperparameters`."""
    key = f"hyperparameters.{exc.field}" if exc.field in values else "hyperparameters"
    return ValidationError({key: str(exc)})


def run_config(
    *,
    kind: str,
    base_model: str,
    hyperparameters: Hyperparameters,
    per_group: bool = False,
    group_balance: bool = False,
    reward_run: TrainingRun | None = None,
    reward_group: str = "",
    reward_rule: str = "",
    reward_method: str = "",
    check_memory: bool = True,
) -> dict[str, Any]:
    """The trainer's full configuration, validated by training.ml.config (ValidationError if not;
    also when its memory estimate exceeds CHORUS_TRAINING_MEMORY_GB, unless `check_memory` is off).
    The reward model is the reward run's pooled model (its run directory) or, with
    `reward_group`, that group's model (checked by `_check_options`)."""
    data: dict[str, Any] = {**hyperparameters.values, "base_model": base_model}
    if kind == RunKind.REWARD:
        data.update(per_group=per_group, method=reward_method or "bt")
    if kind in (RunKind.REWARD, RunKind.DPO):
        data.update(group_balance=group_balance)
    if reward_run is not None and reward_group in reward_run.conditioned_groups():
        data.update(reward_model=str(reward_run.run_dir), reward_group=reward_group)
    elif reward_run is not None:
        path = reward_run.group_models()[reward_group] if reward_group else reward_run.run_dir
        data["reward_model"] = str(path)
    if reward_rule:
        data["reward_rule"] = reward_rule
    try:
        config = to_dict(from_dict(CONFIG_CLASSES[kind], data))
    except ConfigError as exc:
        raise hyperparameter_error(exc, hyperparameters.values) from exc
    _check_resources(kind, config, check_memory)
    return config


def _check_resources(kind: str, config: dict[str, Any], check_memory: bool = True) -> None:
    """The chosen Accelerate config exists; the run's memory estimate fits
    CHORUS_TRAINING_MEMORY_GB per device (when set). ValidationError naming the field if not."""
    name = config["accelerate_config"]
    if name and accelerate_config_path(name) is None:
        offered = ", ".join(accelerate_config_names()) or "none"
        raise ValidationError(
            {
                "hyperparameters.accelerate_config": f"no Accelerate config {name!r} (configs: {offered})"
            }
        )
    budget = settings.CHORUS_TRAINING_MEMORY_GB
    found = memory_estimate(kind=kind, config=config) if budget > 0 and check_memory else None
    message = refusal(found, int(budget * 2**30), "a training GPU") if found else None
    if message:
        raise ValidationError({"hyperparameters": message})


def _check_options(
    *,
    kind: str,
    base_model: str,
    per_group: bool,
    group_balance: bool,
    reward_run: TrainingRun | None,
    reward_group: str,
    reward_rule: str,
    reward_method: str = "",
) -> None:
    errors: dict[str, str] = {}
    if reward_method and kind != RunKind.REWARD:
        errors["reward_method"] = "A reward-model method applies to reward runs only."
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
    if reward_group and "reward_run" not in errors:
        offered = reward_run_groups(reward_run) if reward_run is not None else []
        if reward_run is None:
            errors["reward_group"] = "A group's reward model needs a reward run."
        elif reward_group not in offered:
            names = ", ".join(offered) or (
                "none (train the reward run with per-group models or group-conditioned)"
            )
            errors["reward_group"] = (
                f"{reward_run} has no model for group {reward_group!r} that may be used "
                f"(groups need {settings.CHORUS_MIN_GROUP_SIZE}+ labelers). Its group models: {names}."
            )
    if errors:
        raise ValidationError(errors)


def reward_run_groups(reward_run: TrainingRun) -> list[str]:
    """The groups a PPO/GRPO run may pick a reward for: a per-group model or, for a
    group-conditioned run, its token."""
    return sorted(set(reward_run.group_models()) | set(reward_run.conditioned_groups()))


def _check_aggregate(config: Mapping[str, Any], reward_run: TrainingRun | None) -> None:
    """reward_aggregate "maxmin"/"welfare" need a reward run with latent cluster models, and
    "welfare" a weight for each of them (ValidationError on the hyperparameter)."""
    aggregate = config.get("reward_aggregate", "pooled")
    if aggregate == "pooled":
        return
    clusters = list(reward_run.cluster_models()) if reward_run is not None else []
    if not clusters:
        raise ValidationError({"hyperparameters.reward_aggregate": (
            f'"{aggregate}" needs a reward run trained with latent groups '
            f'(reward hyperparameter "latent_groups"); {reward_run} has no cluster models.'
        )})  # fmt: skip
    given = sorted(config.get("welfare_weights") or {})
    if aggregate == "welfare" and given != sorted(clusters):
        raise ValidationError({"hyperparameters.welfare_weights": (
            f"give a weight to each of {reward_run}'s clusters {', '.join(clusters)} "
            f"(got {', '.join(given) or 'none'})."
        )})  # fmt: skip


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
    reward_group: str = "",
    reward_rule: str = "",
    reward_method: str = "",
    hyperparameters: Hyperparameters | Mapping[str, Any] | None = None,
    name: str = "",
) -> TrainingRun:
    """Validate a run, freeze its dataset into the run directory, and queue it. PPO/GRPO:
    `reward_group` picks one of the reward run's models, "" or "pooled" for the pooled one.
    Reward runs: `reward_method` (training.ml.config.REWARD_METHODS, "" = "bt") is the
    trainer's `method` (issue 15)."""
    projects, labeler_groups = list(projects), list(labeler_groups)
    if not projects:
        raise ValidationError({"projects": "Choose at least one project."})
    if len({p.red_team for p in projects}) > 1:
        raise ValidationError(
            {"projects": "Red-team projects (which reply is more harmful?) cannot be mixed with "
             "ordinary ones (which reply is better?)."}
        )  # fmt: skip
    base_model = model_resolve(base_model, field="base_model")
    reward_group = "" if reward_group == POOLED_REWARD else reward_group
    options = dict(
        per_group=per_group,
        group_balance=group_balance,
        reward_run=reward_run,
        reward_group=reward_group,
        reward_rule=reward_rule,
    )
    _check_options(kind=kind, base_model=base_model, reward_method=reward_method, **options)
    if not isinstance(hyperparameters, Hyperparameters):
        hyperparameters = hyperparameters_parse(kind=kind, values=hyperparameters or {})
    config = run_config(
        kind=kind, base_model=base_model, hyperparameters=hyperparameters,
        reward_method=reward_method, **options,
    )  # fmt: skip
    _check_aggregate(config, reward_run)
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

    dispatch_on_commit(training_run_task, run)
    return run


def run_estimate(
    *,
    kind: str,
    base_model: str,
    hyperparameters: Hyperparameters,
    per_group: bool = False,
    group_balance: bool = False,
    reward_run: TrainingRun | None = None,
    reward_group: str = "",
    reward_rule: str = "",
    **_run_fields: Any,
) -> dict[str, Any]:
    """A run's memory estimate before it is created (nothing is written): the estimate
    (training.resources.estimate_output, None without local model files), the budget
    CHORUS_TRAINING_MEMORY_GB (0: unchecked) and whether it fits, with the refusal's text."""
    base_model = model_resolve(base_model, field="base_model")
    reward_group = "" if reward_group == POOLED_REWARD else reward_group
    options = dict(per_group=per_group, group_balance=group_balance, reward_run=reward_run,
                   reward_group=reward_group, reward_rule=reward_rule)  # fmt: skip
    _check_options(kind=kind, base_model=base_model, **options)
    config = run_config(
        kind=kind, base_model=base_model, hyperparameters=hyperparameters, check_memory=False,
        **options,
    )  # fmt: skip
    found = memory_estimate(kind=kind, config=config)
    budget = settings.CHORUS_TRAINING_MEMORY_GB
    message = refusal(found, int(budget * 2**30), "a training GPU") if found and budget else None
    return {
        "memory_estimate": estimate_output(found),
        "budget_gib": budget,
        "fits": message is None,
        "refusal": message or "",
    }


# Config keys a control run sets itself instead of copying.
CONTROL_OWN_KEYS = (
    *RUN_FIELDS_IN_CONFIG,
    "reward_rule_args",
    "monitor_model",
    "monitor_rule",
    "monitor_rule_args",
)


def run_control_create(*, run: TrainingRun, created_by: Any) -> TrainingRun:
    """Queue a random-reward control of a GRPO run: same base model, seed, budget, options and
    frozen dataset (its dataset.jsonl is copied, so later judgments do not change it), reward
    rule "random" seeded with the run's seed, and the run's own reward as the monitor reward.
    ValidationError (on "run") for anything but a GRPO run that is not itself a control."""
    if run.kind != RunKind.GRPO:
        raise ValidationError({"run": "Only GRPO runs have a random-reward control."})
    if run.control_of_id is not None or run.reward_rule == RANDOM_RULE:
        raise ValidationError({"run": "This run already uses random rewards."})
    source = run.run_dir / DATASET_FILE
    if not source.is_file():
        raise ValidationError({"run": "The run's dataset snapshot is gone; it cannot be copied."})
    values = {k: v for k, v in run.config.items() if k not in CONTROL_OWN_KEYS}
    values["reward_rule_args"] = {"seed": run.config.get("seed", 0)}
    if run.reward_rule:
        values["monitor_rule"] = run.reward_rule
        values["monitor_rule_args"] = run.config.get("reward_rule_args") or {}
    else:
        values["monitor_model"] = run.config.get("reward_model")
    hyperparameters = hyperparameters_parse(kind=run.kind, values=values)
    config = run_config(
        kind=run.kind, base_model=run.base_model, hyperparameters=hyperparameters,
        reward_rule=RANDOM_RULE,
    )  # fmt: skip
    control = TrainingRun(
        name=f"{run} · random-reward control"[:200], kind=run.kind, base_model=run.base_model,
        date_from=run.date_from, date_to=run.date_to, include_external=run.include_external,
        tie_policy=run.tie_policy, both_bad_policy=run.both_bad_policy, config=config,
        created_by=created_by, reward_rule=RANDOM_RULE, control_of=run,
    )  # fmt: skip
    control.full_clean()
    try:
        with transaction.atomic():
            control.save()
            control.projects.set(run.projects.all())
            control.labeler_groups.set(run.labeler_groups.all())
            control.artifacts_dir = str(Path(settings.CHORUS_RUNS_DIR).resolve() / str(control.pk))
            shutil.rmtree(control.run_dir, ignore_errors=True)
            control.run_dir.mkdir(parents=True)
            shutil.copyfile(source, control.run_dir / DATASET_FILE)
            (control.run_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True))
            control.dataset_counts = dict(run.dataset_counts)
            control.save(update_fields=["artifacts_dir", "dataset_counts"])
    except BaseException:
        if control.pk:
            shutil.rmtree(control.run_dir, ignore_errors=True)
        raise
    from training.tasks import training_run_task

    transaction.on_commit(lambda: training_run_task.delay(control.pk))
    return control


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
        eval_fraction=run.config["eval_fraction"],
        seed=run.config["seed"],
    )
    counts = dataset_write(kind=run.kind, spec=spec, path=run.run_dir / DATASET_FILE)
    if not counts["train_rows"]:
        what = "training rows" if counts["rows"] else "rows"
        raise ValidationError(
            f"No {what}: nothing in the chosen projects, groups and dates gives {counts['format']} rows."
        )
    _check_snapshot(run.config, counts)
    counts.update(projects=sorted(p.name for p in projects), groups=list(spec.group_names))
    (run.run_dir / CONFIG_FILE).write_text(json.dumps(run.config, indent=2, sort_keys=True))
    run.dataset_counts = counts
    run.save(update_fields=["artifacts_dir", "dataset_counts"])


def _check_snapshot(config: dict[str, Any], counts: dict[str, Any]) -> None:
    """Options that need something of the data (issue 15): group-robust DPO needs pairs of two
    labeler groups or more (labelers in no group count as one), latent groups at least K
    labelers (ValidationError on the hyperparameter)."""
    groups = counts.get("rows_per_group", {})
    if config.get("group_robust") and len(groups) < 2:
        raise ValidationError({
            "hyperparameters.group_robust": "Group-robust DPO needs pairs from at least two "
            f"labeler groups; this dataset has {len(groups)}."
        })  # fmt: skip
    k = config.get("latent_groups") or 0
    if k and counts.get("labelers", 0) < k:
        raise ValidationError({
            "hyperparameters.latent_groups": f"{k} latent groups need at least {k} labelers; "
            f"this dataset has judgments of {counts.get('labelers', 0)}."
        })  # fmt: skip


def run_cancel(*, run: TrainingRun) -> TrainingRun:
    """A queued run is cancelled at once; a running one stops at the trainer's next step."""
    job_cancel(run, ended="The run has already ended.", message="cancelled before it started")
    run.refresh_from_db()
    return run


# --- execute -------------------------------------------------------------------------------


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
