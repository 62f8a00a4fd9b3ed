"""PPO and GRPO end to end on the miniature InstructGPT recipe (SFT policy + reward model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import prompt_rows

pytestmark = pytest.mark.slow


def _means(events, key: str) -> list[float]:
    return [e.metrics[key] for e in events if key in e.metrics and e.phase == "train"]


def _train_on_prompts(train, config, output_dir: Path):  # noqa: ANN001, ANN202
    """Train on 64 prompts; return the result and the mean reward of each training step."""
    events = []
    result = train(config, prompt_rows(64), output_dir, on_progress=events.append)
    return result, _means(events, "train/reward/mean"), events


def _reward_rose(rewards: list[float], by: float) -> bool:
    """The mean of the last four steps beats the mean of the first three by more than `by`."""
    return sum(rewards[-4:]) / 4 > sum(rewards[:3]) / 3 + by


def test_ppo_raises_the_reward_with_bounded_kl(sft_policy_and_reward_model, tmp_path: Path) -> None:
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM

    from training.ml.config import PPOConfig
    from training.ml.ppo import train_ppo

    policy, rm = sft_policy_and_reward_model
    config = PPOConfig(
        base_model=policy,
        reward_model=rm,
        learning_rate=1e-3,
        batch_size=16,
        mini_batch_size=8,
        ppo_epochs=2,
        max_new_tokens=12,
        max_steps=16,
        kl_coef=0.05,
        max_length=48,
    )
    result, rewards, events = _train_on_prompts(train_ppo, config, tmp_path)
    kls = _means(events, "train/kl")
    assert len(rewards) == 16 and result.steps == 16
    assert _reward_rose(rewards, by=0.3)
    assert max(kls) < 10.0  # nats per completion
    for key in ("train/entropy", "train/clipfrac", "train/loss/value", "train/loss/policy"):
        assert key in result.metrics
    AutoModelForCausalLM.from_pretrained(tmp_path)
    with safe_open(tmp_path / "model.safetensors", "pt") as f:
        assert not [k for k in f.keys() if "value" in k]  # a plain causal LM


def test_grpo_improves_a_rule_based_reward(sft_policy_and_reward_model, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    from training.ml.config import GRPOConfig
    from training.ml.grpo import train_grpo

    policy, _ = sft_policy_and_reward_model
    config = GRPOConfig(
        base_model=policy,
        reward_rule="regex",
        reward_rule_args={"pattern": r"\bhappy\b"},
        learning_rate=2e-3,
        batch_size=8,
        num_generations=4,
        max_new_tokens=12,
        max_steps=14,
        max_length=48,
    )
    result, rewards, _ = _train_on_prompts(train_grpo, config, tmp_path)
    assert _reward_rose(rewards, by=0.2)
    assert result.metrics["train/kl"] < 1.0
    AutoModelForCausalLM.from_pretrained(tmp_path)


def test_grpo_with_a_reward_model_and_cancel(sft_policy_and_reward_model, tmp_path: Path) -> None:
    from training.ml.config import GRPOConfig
    from training.ml.grpo import train_grpo

    policy, rm = sft_policy_and_reward_model
    config = GRPOConfig(
        base_model=policy,
        reward_model=rm,
        batch_size=4,
        num_generations=2,
        max_new_tokens=6,
        max_steps=5,
        updates_per_batch=2,
        max_length=48,
    )
    result = train_grpo(config, prompt_rows(8), tmp_path, should_stop=lambda: True)
    assert result.cancelled and result.steps == 1
    assert (tmp_path / "model.safetensors").exists()


def test_rules() -> None:
    from training.ml.config import ConfigError
    from training.ml.data import PromptRow
    from training.ml.verifiers import RULES, make_rule

    row = PromptRow(prompt=[], answer="Paris")
    assert make_rule("exact_answer", {})("It is paris.", row) == 1.0
    assert make_rule("exact_answer", {"case_sensitive": True})("It is paris.", row) == 0.0
    assert make_rule("regex", {"pattern": r"\d+"})("about 42", row) == 1.0
    assert make_rule("max_length", {"max_chars": 5})("1234567890", row) == 0.5
    assert set(RULES) >= {"exact_answer", "regex", "max_length"}
    with pytest.raises(ConfigError, match="reward_rule 'nope' is not one of"):
        make_rule("nope", {})
    with pytest.raises(ConfigError, match=r"missing \['pattern'\]"):
        make_rule("regex", {})
    with pytest.raises(ConfigError, match=r"unknown \['max'\]"):
        make_rule("max_length", {"max_chars": 3, "max": 2})
    with pytest.raises(ConfigError, match="invalid regex"):
        make_rule("regex", {"pattern": "("})
