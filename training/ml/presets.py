"""Named hyperparameter presets per algorithm, offered by the run form and the API (``preset``).

Standard library only: the web process reads them. A preset is a partial config (fields of the
algorithm's class in training.ml.config); a run's own hyperparameters override it, and without
a preset the config's defaults apply (they are meant for real models and stay as they are).

"demo" is sized for the demo's tiny random model (``manage.py chorus_tiny_model``) and the
planted demo project ("Concise or detailed (planted)"): a learning rate 100x a real model's,
short sequences and few steps, so each algorithm visibly learns within about two minutes on two
CPU cores (figures in README.md, "Presets"). PPO/GRPO need a reward run of the demo preset.
The random tiny policy's samples are noise to a reward model (its scores spread ~0.05), so
their presets use a learning rate of 1e-2, and PPO normalises the scores by the reference
policy's mean and std (``reward_norm="reference"``) so that their small spread is not drowned
by the KL penalty and the uncentred score. The policy then learns whatever raises the score
(repeated tokens, stopping early), not fluent text: the reward rises clearly against the
"45 and over" model of a per-group reward run, less against the pooled model.

    >>> preset_values("reward", "demo")["learning_rate"]
    0.001
    >>> preset_values("sft", "nope")
    Traceback (most recent call last):
    ...
    KeyError: 'nope'
"""

from __future__ import annotations

from typing import Any

# name -> a short description shown in the run form.
PRESETS = {"demo": "Demo: learns in ~2 minutes on 2 CPU cores (the tiny demo model)"}

_VALUES: dict[str, dict[str, dict[str, Any]]] = {
    "demo": {
        "reward": {
            "learning_rate": 1e-3,
            "batch_size": 16,
            "max_steps": 40,
            "max_length": 128,
            "warmup_ratio": 0.1,
            "eval_fraction": 0.2,
        },
        "dpo": {
            "learning_rate": 5e-4,
            "beta": 0.1,
            "robust_eta": 1.0,  # used only with group_robust: a few dozen steps move alpha
            "batch_size": 16,
            "max_steps": 30,
            "max_length": 128,
            "eval_fraction": 0.2,
        },
        "ppo": {
            "learning_rate": 1e-2,
            "batch_size": 16,
            "mini_batch_size": 8,
            "ppo_epochs": 4,
            "max_new_tokens": 16,
            "max_length": 96,
            "max_steps": 30,
            "kl_coef": 0.05,
            "reward_norm": "reference",
            "reward_norm_samples": 64,
        },
        "grpo": {
            "learning_rate": 1e-2,
            "batch_size": 4,
            "num_generations": 8,
            "max_new_tokens": 16,
            "max_length": 96,
            "max_steps": 30,
            "kl_coef": 0.01,
        },
        "sft": {
            "learning_rate": 1e-3,
            "batch_size": 8,
            "max_steps": 40,
            "max_length": 128,
        },
    }
}


def preset_names() -> list[str]:
    return list(PRESETS)


def preset_values(kind: str, name: str) -> dict[str, Any]:
    """The preset's fields for an algorithm (a copy); KeyError for an unknown name or kind."""
    return dict(_VALUES[name][kind])


def preset_table() -> dict[str, dict[str, dict[str, Any]]]:
    """{preset: {kind: fields}}, for the run form's script that fills the hyperparameters."""
    return {name: {k: dict(v) for k, v in kinds.items()} for name, kinds in _VALUES.items()}
