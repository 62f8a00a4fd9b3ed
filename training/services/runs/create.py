"""Creating and cancelling runs: validate, freeze the dataset and config into the run
directory, queue (`run_create`); a memory estimate without creating anything (`run_estimate`);
a GRPO run's random-reward control (`run_control_create`); cancel (`run_cancel`).

A GRPO run's random-reward control (issue 11) is a copy of it with the same seed, budget,
hyperparameters and frozen dataset file, the reward rule "random" (seeded with the run's seed),
and the original reward kept as the trainer's monitor reward (logged, never trained on), so the
run page can compare the two on the same reward.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from annotation.models import LabelerGroup, Project
from config.dispatch import dispatch_on_commit
from training.datasets import DatasetSpec, dataset_write
from training.ml.memory import refusal
from training.models import (
    RANDOM_RULE,
    RunKind,
    TrainingRun,
)
from training.paths import model_resolve
from training.resources import (
    estimate_output,
    memory_estimate,
)
from training.services.runs.execute import CONFIG_FILE, DATASET_FILE
from training.services.runs.options import (
    POOLED_REWARD,
    RUN_FIELDS_IN_CONFIG,
    Hyperparameters,
    check_aggregate,
    check_options,
    hyperparameters_parse,
    run_config,
)
from training.worker import job_cancel


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
    check_options(kind=kind, base_model=base_model, reward_method=reward_method, **options)
    if not isinstance(hyperparameters, Hyperparameters):
        hyperparameters = hyperparameters_parse(kind=kind, values=hyperparameters or {})
    config = run_config(
        kind=kind, base_model=base_model, hyperparameters=hyperparameters,
        reward_method=reward_method, **options,
    )  # fmt: skip
    check_aggregate(config, reward_run)
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
    check_options(kind=kind, base_model=base_model, **options)
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
