"""A run's trainer configuration, checked before anything is written: the typed
hyperparameters (`hyperparameters_parse`, optionally from a preset), the full config
(`run_config`, validated by training.ml.config, with the memory and Accelerate checks), and the
options that depend on the run kind and its reward run (`check_options`, `check_aggregate`).

A PPO/GRPO run optimises against a succeeded reward run's pooled model or, with `reward_group`
(issue 11), against one of its per-group models: the trainer lists them in the run's result as
`group_dirs` (group name -> groups/NN-slug); only groups with CHORUS_MIN_GROUP_SIZE labelers
are accepted, as only those are shown (TrainingRun.group_models).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from training.ml.config import CONFIG_CLASSES, ConfigError, check_fields, from_dict, to_dict
from training.ml.memory import refusal
from training.ml.presets import preset_names, preset_values
from training.models import (
    RunKind,
    RunStatus,
    TrainingRun,
)
from training.resources import (
    accelerate_config_names,
    accelerate_config_path,
    memory_estimate,
)

# Set on the run, not in `hyperparameters`.
RUN_FIELDS_IN_CONFIG = (
    "base_model", "reward_model", "reward_rule", "per_group", "group_balance", "method",
    "reward_group",
)  # fmt: skip
# A config field set on the run under another name.
RUN_FIELD_NAMES = {"method": "reward_method"}
POOLED_REWARD = "pooled"  # `reward_group`'s name for the reward run's pooled model (stored as "")


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
    `reward_group`, that group's model (checked by `check_options`)."""
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


def check_options(
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


def check_aggregate(config: Mapping[str, Any], reward_run: TrainingRun | None) -> None:
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
