"""Configs: defaults, validation and JSON round trips, with errors that name the field."""

from __future__ import annotations

import dataclasses
import json

import pytest

from training.ml.config import (
    CONFIG_CLASSES,
    ConfigError,
    DPOConfig,
    GRPOConfig,
    PPOConfig,
    RewardConfig,
    SFTConfig,
    from_dict,
    load_config,
    to_dict,
)


@pytest.mark.parametrize("cls", list(CONFIG_CLASSES.values()))
def test_round_trip_through_json(cls) -> None:
    required = {"base_model": "some/model"}
    if cls is PPOConfig:
        required["reward_model"] = "/runs/rm"
    if cls is GRPOConfig:
        required["reward_rule"] = "exact_answer"
    config = cls(**required)
    assert from_dict(cls, json.loads(json.dumps(to_dict(config)))) == config


def test_every_field_is_commented() -> None:
    import inspect
    import re
    import sys

    modules = {sys.modules[cls.__module__] for cls in CONFIG_CLASSES.values()}
    lines = [line for m in modules for line in inspect.getsource(m).splitlines()]
    commented = {
        line.split(":")[0].strip()
        for above, line in zip(lines, lines[1:], strict=False)
        if above.strip().startswith("#") and re.match(r"    \w+: ", line)
    }
    for cls in CONFIG_CLASSES.values():
        for f in dataclasses.fields(cls):
            assert f.name in commented, f"{cls.__name__}.{f.name} has no comment"


def test_configs_are_frozen() -> None:
    config = RewardConfig(base_model="m")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 3  # type: ignore[misc]


def test_unknown_field_is_named_with_a_suggestion() -> None:
    with pytest.raises(
        ConfigError, match=r"RewardConfig: unknown field 'lr' \(did you mean 'learning_rate'\?\)"
    ):
        from_dict(RewardConfig, {"base_model": "m", "lr": 1e-5})


def test_missing_required_field_is_named() -> None:
    with pytest.raises(ConfigError, match="missing required field.*base_model"):
        from_dict(SFTConfig, {})
    with pytest.raises(ConfigError, match="missing required field.*reward_model"):
        from_dict(PPOConfig, {"base_model": "m"})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"batch_size": "8"}, "field 'batch_size' must be int"),
        ({"batch_size": 8.5}, "field 'batch_size' must be int"),
        ({"group_balance": 1}, "field 'group_balance' must be bool"),
        ({"seed": True}, "field 'seed' must be int"),
        ({"max_steps": "ten"}, "field 'max_steps' must be int or null"),
        ({"bf16": "auto"}, "field 'bf16' must be bool or null"),
    ],
)
def test_wrong_types_are_named(data, message) -> None:
    with pytest.raises(ConfigError, match=message):
        from_dict(RewardConfig, {"base_model": "m", **data})


def test_ints_are_accepted_for_floats() -> None:
    assert from_dict(DPOConfig, {"base_model": "m", "beta": 1}).beta == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"learning_rate": 0}, "learning_rate"),
        ({"batch_size": 0}, "batch_size"),
        ({"eval_fraction": 1.0}, "eval_fraction"),
        ({"max_steps": 0}, "max_steps"),
        ({"base_model": ""}, "base_model"),
    ],
)
def test_invalid_values_are_named(kwargs, field) -> None:
    with pytest.raises(ConfigError, match=f"field '{field}'"):
        SFTConfig(**{"base_model": "m", **kwargs})


def test_grpo_needs_exactly_one_reward_source() -> None:
    with pytest.raises(ConfigError, match="exactly one of reward_model, reward_rule"):
        GRPOConfig(base_model="m")
    with pytest.raises(ConfigError, match="exactly one"):
        GRPOConfig(base_model="m", reward_model="/rm", reward_rule="regex")
    assert GRPOConfig(base_model="m", reward_model="/rm").reward_rule is None


def test_load_config_names_file_and_line_of_bad_json(tmp_path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{\n  "base_model": "m",\n  "seed": ,\n}')
    with pytest.raises(ConfigError, match=r"config.json: invalid JSON at line 3"):
        load_config(RewardConfig, path)
    path.write_text('{"base_model": "m", "per_group": true}')
    assert load_config(RewardConfig, path).per_group is True
