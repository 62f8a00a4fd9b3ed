"""Training configurations: frozen dataclasses, one per algorithm, JSON in and out.

Standard library only: the web process imports this package to validate and store a run's
configuration without loading torch. One module per family, every name re-exported here:

- ``checks``: ConfigError and the field check every config runs;
- ``train``: TrainConfig (the hyperparameters every trainer shares) and SFTConfig;
- ``preference``: RewardConfig and DPOConfig (strength, reward methods, ensembles);
- ``rollout``: RolloutConfig, PPOConfig and GRPOConfig (the on-policy trainers);
- ``sampling``: SamplingSettings of generation jobs;
- ``loading``: to_dict / from_dict / check_fields / load_config and CONFIG_CLASSES.

Models and data have no defaults (``base_model``, ``reward_model``); hyperparameters do.
Every field is keyword-only, so a config reads like its JSON::

    >>> from training.ml.config import RewardConfig, to_dict, from_dict
    >>> cfg = RewardConfig(base_model="path/to/model", group_balance=True)
    >>> from_dict(RewardConfig, to_dict(cfg)) == cfg
    True
    >>> from_dict(RewardConfig, {"base_model": "m", "lr": 1e-5})
    Traceback (most recent call last):
    ...
    training.ml.config.checks.ConfigError: RewardConfig: unknown field 'lr' (did you mean 'learning_rate'?)
"""

from training.ml.config.checks import INT_MAX, ConfigError
from training.ml.config.loading import (
    ALIASES,
    CONFIG_CLASSES,
    FLOAT_BOUNDS,
    INT_BOUNDS,
    check_fields,
    from_dict,
    load_config,
    to_dict,
)
from training.ml.config.preference import (
    ENSEMBLE_MODES,
    REWARD_METHODS,
    STRENGTH_MODES,
    DPOConfig,
    RewardConfig,
)
from training.ml.config.rollout import (
    GRPO_LOSS_TYPES,
    PPO_CRITICS,
    PPO_REWARD_NORMS,
    REWARD_AGGREGATES,
    GRPOConfig,
    PPOConfig,
    RolloutConfig,
)
from training.ml.config.sampling import SAMPLING_BOUNDS, SamplingSettings
from training.ml.config.train import (
    ACCELERATE_NAME,
    OPTIMIZERS,
    TARGET_MODULES,
    SFTConfig,
    TrainConfig,
)

__all__ = [
    "ACCELERATE_NAME",
    "ALIASES",
    "CONFIG_CLASSES",
    "ENSEMBLE_MODES",
    "FLOAT_BOUNDS",
    "GRPO_LOSS_TYPES",
    "INT_BOUNDS",
    "INT_MAX",
    "OPTIMIZERS",
    "PPO_CRITICS",
    "PPO_REWARD_NORMS",
    "REWARD_AGGREGATES",
    "REWARD_METHODS",
    "SAMPLING_BOUNDS",
    "STRENGTH_MODES",
    "TARGET_MODULES",
    "ConfigError",
    "DPOConfig",
    "GRPOConfig",
    "PPOConfig",
    "RewardConfig",
    "RolloutConfig",
    "SFTConfig",
    "SamplingSettings",
    "TrainConfig",
    "check_fields",
    "from_dict",
    "load_config",
    "to_dict",
]
