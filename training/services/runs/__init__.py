"""Writes of training runs: create (validate, freeze the dataset, queue), cancel, execute.

One module per step, every public name re-exported here:

- `options`: the run's trainer configuration (typed hyperparameters, presets, the full config
  validated by training.ml.config, memory and Accelerate checks, the reward run's options);
- `create`: `run_create`, `run_estimate`, `run_control_create` (a GRPO run's random-reward
  control, issue 11) and `run_cancel`;
- `execute`: `run_execute` on a worker of the training queue, through training/worker.py.
"""

from training.services.runs.create import (
    CONTROL_OWN_KEYS,
    run_cancel,
    run_control_create,
    run_create,
    run_estimate,
)
from training.services.runs.execute import (
    CONFIG_FILE,
    DATASET_FILE,
    LOG_FILE,
    run_execute,
    trainer_command,
)
from training.services.runs.options import (
    POOLED_REWARD,
    RUN_FIELD_NAMES,
    RUN_FIELDS_IN_CONFIG,
    Hyperparameters,
    hyperparameter_error,
    hyperparameters_parse,
    reward_run_groups,
    run_config,
)

__all__ = [
    "CONFIG_FILE",
    "CONTROL_OWN_KEYS",
    "DATASET_FILE",
    "LOG_FILE",
    "POOLED_REWARD",
    "RUN_FIELDS_IN_CONFIG",
    "RUN_FIELD_NAMES",
    "Hyperparameters",
    "hyperparameter_error",
    "hyperparameters_parse",
    "reward_run_groups",
    "run_cancel",
    "run_config",
    "run_control_create",
    "run_create",
    "run_estimate",
    "run_execute",
    "trainer_command",
]
