"""Configs in and out of JSON: ``to_dict``, ``from_dict``, ``check_fields``, ``load_config``.

A dict from a user (the web form, the API, a config file) is checked field by field before a
config is built: unknown names get a "did you mean" hint (``ALIASES``: other trainers' names for
our fields), values must fit the field's annotation (int is accepted for float, bool is not
int), and numbers must be finite and within ``INT_BOUNDS`` / ``FLOAT_BOUNDS``. Ranges and
cross-field rules are checked by each config's ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from training.ml.config.checks import INT_MAX, ConfigError
from training.ml.config.preference import DPOConfig, RewardConfig
from training.ml.config.rollout import GRPOConfig, PPOConfig
from training.ml.config.train import SFTConfig, TrainConfig

# Upper bounds of integer fields (no config field may exceed INT_MAX): a typo such as
# max_steps 10**30 is refused before a run is queued, not hours into it.
INT_BOUNDS = {
    "max_steps": 10_000_000, "epochs": 10_000, "batch_size": 65_536, "grad_accumulation": 65_536,
    "max_length": 1_048_576, "max_new_tokens": 65_536, "log_every": 10_000_000,
    "num_generations": 1024, "ppo_epochs": 1000, "mini_batch_size": 65_536,
    "reward_norm_samples": 1_000_000, "kl_horizon": 1_000_000_000, "updates_per_batch": 1000,
    "latent_groups": 32, "latent_iterations": 100, "dpl_top_pairs": 1000, "ensemble_size": 16,
    "lora_r": 4096, "lora_alpha": 1_000_000,
}  # fmt: skip
# Upper bounds of float fields (every float must also be finite: no NaN, no infinity).
FLOAT_BOUNDS = {
    "learning_rate": 1.0, "critic_learning_rate": 1.0, "temperature": 100.0, "robust_eta": 100.0,
}  # fmt: skip

CONFIG_CLASSES: dict[str, type[TrainConfig]] = {
    "reward": RewardConfig,
    "dpo": DPOConfig,
    "ppo": PPOConfig,
    "grpo": GRPOConfig,
    "sft": SFTConfig,
}

# Names other trainers use for our fields, for "did you mean" hints.
ALIASES = {
    "lr": "learning_rate",
    "num_train_epochs": "epochs",
    "num_epochs": "epochs",
    "per_device_train_batch_size": "batch_size",
    "gradient_accumulation_steps": "grad_accumulation",
    "model": "base_model",
    "model_name_or_path": "base_model",
    "eval_split": "eval_fraction",
}

C = TypeVar("C", bound=TrainConfig)


def to_dict(config: TrainConfig) -> dict[str, Any]:
    """The config as a JSON-ready dict (every field, defaults included)."""
    return dataclasses.asdict(config)


def from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Build ``cls`` from a dict, naming every unknown, missing or mistyped field."""
    check_fields(cls, data)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    missing = [
        n
        for n, f in fields.items()
        if n not in data
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{cls.__name__}: missing required field(s) {', '.join(missing)}")
    try:
        return cls(**data)
    except TypeError as exc:  # pragma: no cover - guarded above; kept for a clear message
        raise ConfigError(f"{cls.__name__}: {exc}") from exc


def check_fields(cls: type[TrainConfig], data: dict[str, Any]) -> None:
    """Some fields of ``cls`` (the others left out): ConfigError naming the first unknown or
    mistyped one. Their ranges are checked when the config is built."""
    if not isinstance(data, dict):
        raise ConfigError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in data:
        if name not in fields:
            close = (
                [ALIASES[name]] if name in ALIASES else difflib.get_close_matches(name, fields, n=1)
            )
            hint = f" (did you mean {close[0]!r}?)" if close else f"; fields: {', '.join(fields)}"
            raise ConfigError(f"{cls.__name__}: unknown field {name!r:.60}{hint}", name)
    hints = typing.get_type_hints(cls)
    for name, value in data.items():
        if not _matches(value, hints[name]):
            raise ConfigError(
                f"{cls.__name__}: field {name!r} must be {_type_name(hints[name])}, got {value!r:.60}",
                name,
            )
        _check_value(cls, name, value)


def load_config(cls: type[C], path: str | Path) -> C:
    """Read a JSON file into ``cls``; a JSON syntax error names the file and line."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    if isinstance(data, dict):  # written before issue 10 removed it: the cache is in output_dir
        data.pop("ref_logps_cache", None)
    return from_dict(cls, data)


def _check_value(cls: type, name: str, value: Any) -> None:
    """Numbers must be finite and within their bounds (INT_BOUNDS, FLOAT_BOUNDS, INT_MAX)."""
    if isinstance(value, bool):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{cls.__name__}: field {name!r} must be a finite number", name)
    if isinstance(value, int) and abs(value) > INT_BOUNDS.get(name, INT_MAX):
        most = INT_BOUNDS.get(name, INT_MAX)
        raise ConfigError(f"{cls.__name__}: field {name!r} must be at most {most}", name)
    if isinstance(value, int | float) and value > FLOAT_BOUNDS.get(name, math.inf):
        raise ConfigError(
            f"{cls.__name__}: field {name!r} must be at most {FLOAT_BOUNDS[name]}", name
        )


def _matches(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a field's annotation (int is accepted for float; bool is not int)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return True


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    if hint is type(None):
        return "null"
    return getattr(hint, "__name__", str(hint))
