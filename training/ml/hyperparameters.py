"""What the run form shows for each hyperparameter: its type, default, choices, meaning and a
sensible range, derived from ``training.ml.config`` (one source of truth).

Standard library only: the web process imports it. The meaning of a field is the comment above
it in its config dataclass (the nearest class in the MRO that comments it), read from the
source; ``TYPICAL`` is the one table of sensible ranges, beside the config's own checks::

    >>> spec = {s.name: s for s in field_specs("dpo")}["beta"]
    >>> spec.type, spec.default, spec.meaning.split(";")[0]
    ('float', 0.1, 'Inverse temperature of the implicit reward')
    >>> "0.01" in spec.typical
    True
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

from training.ml.config import (
    CONFIG_CLASSES,
    ENSEMBLE_MODES,
    GRPO_LOSS_TYPES,
    OPTIMIZERS,
    PPO_CRITICS,
    PPO_REWARD_NORMS,
    REWARD_AGGREGATES,
    STRENGTH_MODES,
    TrainConfig,
)

# Set on the run itself (its own form fields) or by a control run, never typed in as a
# hyperparameter; dict fields (rule arguments) go in the form's JSON box.
NOT_TYPED = frozenset(
    {"base_model", "reward_model", "reward_rule", "per_group", "group_balance",
     "monitor_model", "monitor_rule", "monitor_rule_args", "method", "reward_group"}
)  # fmt: skip
# Fields a researcher rarely changes (the shared TrainConfig's, and the throughput switches):
# folded away under "More".
ADVANCED = frozenset(
    {"seed", "warmup_ratio", "weight_decay", "max_grad_norm", "grad_accumulation", "eval_fraction",
     "log_every", "bf16", "epochs", "lora_alpha", "lora_dropout", "lora_target_modules",
     "merge_adapters", "qlora", "optimizer", "accelerate_config",
     "packing", "torch_compile"}
)  # fmt: skip
# Allowed string values of the choice fields (the config's own tuples).
CHOICES: dict[str, tuple[str, ...]] = {
    "strength": STRENGTH_MODES,
    "ensemble_mode": ENSEMBLE_MODES,
    "loss_type": GRPO_LOSS_TYPES,
    "critic": PPO_CRITICS,
    "reward_aggregate": REWARD_AGGREGATES,
    "reward_norm": tuple(n for n in PPO_REWARD_NORMS if n is not None),
    "optimizer": OPTIMIZERS,
    "accelerate_config": (),  # the run form offers the server's configs (forms.runs)
}

# Sensible ranges, for real models unless said otherwise (the demo presets go beyond them on
# purpose: a tiny random model needs a learning rate 100x larger). Keyed by field, or by
# "kind.field" where one algorithm differs.
TYPICAL: dict[str, str] = {
    "learning_rate": "1e-6 to 5e-5 (reward models and SFT around 1e-5; tiny demo model 1e-3)",
    "dpo.learning_rate": "1e-7 to 5e-6 (5e-7 is common; tiny demo model 5e-4)",
    "ppo.learning_rate": "1e-7 to 5e-6 (tiny demo model 1e-2)",
    "grpo.learning_rate": "1e-7 to 5e-6 (tiny demo model 1e-2)",
    "batch_size": "4 to 64, as memory allows; raise grad_accumulation for larger effective batches",
    "grad_accumulation": "1 to 16; effective batch = batch_size x grad_accumulation x GPUs",
    "epochs": "1 to 3 for preference data (more overfits quickly)",
    "max_steps": "empty (use epochs), or 20 to 100 to try a setting quickly",
    "max_length": "256 to 2048, above your longest prompt + response in tokens",
    "warmup_ratio": "0 to 0.1",
    "weight_decay": "0 to 0.1",
    "max_grad_norm": "0.5 to 1.0 (0 disables clipping)",
    "eval_fraction": "0.05 to 0.2",
    "seed": "any whole number; change it to see run-to-run variation",
    "log_every": "1 (every step) to 50 for long runs",
    "bf16": "empty: bf16 on a GPU that supports it",
    "beta": "0.01 to 0.5 (0.1 is the paper's default; smaller drifts further from the reference)",
    "margin_scale": "1 (Llama 2's small margins) to 3 (its large ones)",
    "strength": "ignore, unless labelers used the 8-point strength scale",
    "control_shuffles": "3 to 10",
    "max_new_tokens": "16 to 512, about the length of a good answer",
    "temperature": "0.7 to 1.0",
    "kl_coef": "0.01 to 0.2 (higher keeps the policy closer to the reference)",
    "cliprange": "0.1 to 0.3",
    "missing_eos_penalty": "empty, or 1 to 10 to discourage answers that never end",
    "ppo_epochs": "1 to 4",
    "mini_batch_size": "1 to batch_size, a divisor of it",
    "gamma": "1.0 for language (rewards arrive at the end)",
    "lam": "0.9 to 1.0",
    "vf_coef": "0.05 to 0.5",
    "cliprange_value": "0.1 to 0.3",
    "reward_norm_samples": "64 to 512",
    "target_kl": "empty (fixed kl_coef), or 3 to 10 nats",
    "kl_horizon": "1000 to 10000 samples",
    "critic_learning_rate": "empty (= learning_rate), or up to 10x it",
    "num_generations": "4 to 16 (larger groups give steadier advantages)",
    "updates_per_batch": "1 (on-policy) to 4",
    "group_robust": "on when one labeler group is served worse than the others (see its accuracy)",
    "robust_eta": "0.01 to 0.1 for long runs, about 1 for a few dozen steps (the demo)",
    "latent_groups": "0 (off), or 2 to 5 preference types you suspect among the labelers",
    "latent_iterations": "3 to 10 (the run page shows how many labelers each round moved)",
    "ensemble_size": "1 (no ensemble), or 3 to 5 (Coste et al. use 5); each member costs a run",
    "ensemble_mode": "mean_std for a cautious mean; min for the most conservative reward",
    "ensemble_lambda": "0.1 to 1 (reward units: how much one std of disagreement costs)",
    "odin_length_weight": "0.5 to 1 (ODIN's lambda_L)",
    "odin_ortho_weight": "0.1 to 1 (ODIN's lambda_O)",
    "dpl_top_pairs": "10 to 50",
    "lora_r": "0 (full fine-tune), or 8 to 64 for models of 1B+ (16 is common)",
    "lora_alpha": "lora_r to 2 x lora_r",
    "lora_dropout": "0 to 0.1",
    "gradient_checkpointing": "on for long sequences or large models on one GPU",
    "packing": "on (same results as padding, less compute); off only to compare",
    "torch_compile": "off, except long GPU runs (compiling takes minutes; no gain on CPU)",
}


@dataclass(frozen=True)
class FieldSpec:
    """One hyperparameter of an algorithm, as the run form shows it."""

    name: str
    # "int", "float", "bool", "choice" or "dict" (dict fields go in the JSON box).
    type: str
    default: Any
    # None is allowed (an empty box keeps the default None).
    optional: bool
    choices: tuple[str, ...]
    # The config comment: what the field means.
    meaning: str
    # A sensible range in words ("" when the table has none).
    typical: str
    # Declared by the algorithm's own classes (not the shared TrainConfig).
    specific: bool
    # Folded under "More settings".
    advanced: bool

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()


def field_specs(kind: str) -> list[FieldSpec]:
    """The typed fields of algorithm `kind`: its own fields first, then the shared ones."""
    cls = CONFIG_CLASSES[kind]
    hints = typing.get_type_hints(cls)
    shared = {f.name for f in dataclasses.fields(TrainConfig)}
    specs = []
    for f in dataclasses.fields(cls):
        if f.name in NOT_TYPED:
            continue
        base, optional = _base_type(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc,operator]
        specs.append(
            FieldSpec(
                name=f.name,
                type="choice" if f.name in CHOICES else base,
                default=default,
                optional=optional,
                choices=CHOICES.get(f.name, ()),
                meaning=field_comments(cls).get(f.name, ""),
                typical=TYPICAL.get(f"{kind}.{f.name}", TYPICAL.get(f.name, "")),
                specific=f.name not in shared,
                advanced=f.name in ADVANCED,
            )
        )
    return sorted(specs, key=lambda s: (not s.specific, s.advanced))


def field_comments(cls: type) -> dict[str, str]:
    """field name -> the comment lines above it, from `cls` and its bases (nearest first)."""
    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            comments.update(_class_comments(klass.__module__, klass.__qualname__))
    return comments


@functools.cache
def _class_comments(module: str, name: str) -> dict[str, str]:
    found: dict[str, str] = {}
    pending: list[str] = []
    aside = False  # a parenthesised note between fields, about none of them
    klass = getattr(importlib.import_module(module), name)
    for line in inspect.getsource(klass).splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            text = stripped.lstrip("#").strip()
            aside = aside or (not pending and text.startswith("("))
            if not aside:
                pending.append(text)
            aside = aside and not text.endswith(")")
            continue
        field = re.match(r"(\w+)\s*:", stripped)
        if field and pending and not stripped.startswith(("def ", "class ")):
            found[field.group(1)] = " ".join(pending).replace("``", "")  # reST literals
        pending = []
    return found


def _base_type(hint: Any) -> tuple[str, bool]:
    """("int" | "float" | "bool" | "str" | "dict", whether None is allowed)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return _base_type(rest[0])[0], type(None) in args
    if hint is dict or typing.get_origin(hint) is dict:
        return "dict", False
    return getattr(hint, "__name__", "str"), False
