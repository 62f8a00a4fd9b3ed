"""Configs of the on-policy trainers: RolloutConfig (what PPO and GRPO share), PPOConfig, GRPOConfig.

PPO's reward normalisation, adaptive KL controller and separate critic (``reward_norm``,
``target_kl``/``kl_horizon``, ``critic``; issue 11) are off by default and described with their
papers in ``training.ml.ppo``. Both may turn a reward run's latent cluster models into one
reward (``reward_aggregate``; training.ml.welfare).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from training.ml.config.checks import _check
from training.ml.config.train import TrainConfig

# How PPO/GRPO turn a reward run's models into one reward (training.ml.welfare): its pooled
# model, the worst-off latent cluster's (MaxMin-RLHF) or a weighted social welfare.
REWARD_AGGREGATES = ("pooled", "maxmin", "welfare")


@dataclass(frozen=True, kw_only=True)
class RolloutConfig(TrainConfig):
    """Rollout settings shared by the on-policy trainers (PPO, GRPO).

    Here ``batch_size`` counts prompts per rollout, ``max_steps``/``epochs`` count rollout
    iterations, ``max_length`` bounds prompt + completion, rows with split "eval" are left out,
    and ``grad_accumulation`` is not used (PPO steps per minibatch, GRPO per sample batch).
    """

    learning_rate: float = 1e-6
    # Tokens sampled per completion at most.
    max_new_tokens: int = 64
    # Sampling temperature (also applied when scoring log-probs, as the policy sampled).
    temperature: float = 1.0
    # Weight of the KL penalty to the reference model.
    kl_coef: float = 0.05
    # PPO-style ratio clipping range epsilon.
    cliprange: float = 0.2
    # Subtracted from the reward of every completion cut at max_new_tokens without an EOS
    # (lm-human-preferences; TRL's missing_eos_penalty); None leaves rewards unchanged, as
    # TRL does by default.
    missing_eos_penalty: float | None = None
    # A group-conditioned reward run (method "conditioned"): score with this group's token
    # instead of the mean over its groups. Set from the run's reward_group.
    reward_group: str | None = None
    # How the reward run's models give the reward (training.ml.welfare): "pooled" (its product
    # model), "maxmin" (each batch, the latent cluster model whose mean reward is lowest;
    # MaxMin-RLHF) or "welfare" (welfare_weights' weighted mean of the cluster models). The
    # last two need a reward run trained with latent_groups.
    reward_aggregate: str = "pooled"
    # "welfare": latent cluster number ("1", "2", ...) -> its weight (>= 0, not all 0; every
    # cluster of the reward run given).
    welfare_weights: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_aggregate(self)
        _check(self, self.max_new_tokens < 1, "max_new_tokens", "must be >= 1")
        _check(self, self.temperature <= 0, "temperature", "must be > 0")
        _check(self, self.kl_coef < 0, "kl_coef", "must be >= 0")
        _check(self, self.cliprange <= 0, "cliprange", "must be > 0")


PPO_CRITICS = ("shared", "reward_model")
PPO_REWARD_NORMS = (None, "running", "reference")


@dataclass(frozen=True, kw_only=True)
class PPOConfig(RolloutConfig):
    """PPO with a value head, per-token KL penalty and GAE, as in InstructGPT."""

    # Finished reward-model run directory (the output_dir of a reward run).
    reward_model: str
    # Optimisation passes over each rollout batch.
    ppo_epochs: int = 4
    # Rollouts (one per prompt) per optimisation minibatch; batch_size prompts are sampled per
    # rollout.
    mini_batch_size: int = 4
    # Discount factor for GAE.
    gamma: float = 1.0
    # GAE lambda.
    lam: float = 0.95
    # Weight of the value loss in the total loss.
    vf_coef: float = 0.1
    # Clipping range of the value function around its rollout-time estimate.
    cliprange_value: float = 0.2
    # Normalise advantages to zero mean and unit variance within each rollout batch.
    whiten_advantages: bool = True
    # Reward normalisation: None (the reward model's raw scores, as before), "running" (each
    # score minus the running mean, over the running std, of every score seen so far, this batch
    # included; TRL's RunningMoments) or "reference" (minus the mean, over the std, of the scores
    # of reference-policy samples drawn before training, so the reference's mean reward is 0;
    # lm-human-preferences' gain and bias, InstructGPT's bias). Applied before
    # missing_eos_penalty.
    reward_norm: str | None = None
    # Prompts sampled (one completion each) from the reference policy to measure its reward
    # mean and std for reward_norm "reference".
    reward_norm_samples: int = 256
    # Target KL to the reference (nats per completion) of the adaptive KL controller (Ziegler et
    # al. 2019); None keeps kl_coef fixed. kl_coef is then the initial coefficient.
    target_kl: float | None = None
    # Horizon of the adaptive KL controller in samples: with n samples per rollout the
    # coefficient moves by at most 20 % x n / kl_horizon per rollout.
    kl_horizon: int = 10000
    # Value model: "shared" (a linear head on the policy's own backbone) or "reward_model" (a
    # separate backbone and head loaded from reward_model, trained by the value loss; InstructGPT,
    # OpenRLHF). "reward_model" needs a reward model with the policy's tokenizer, and costs a
    # second trainable model: its weights, gradients and AdamW state (about 16 bytes per
    # parameter in float32) and its activations.
    critic: str = "shared"
    # Learning rate of the separate critic's optimizer param group; None uses learning_rate.
    critic_learning_rate: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self, not self.reward_model, "reward_model", "must be a reward run directory")
        _check(self, self.ppo_epochs < 1, "ppo_epochs", "must be >= 1")
        _check(self, self.mini_batch_size < 1, "mini_batch_size", "must be >= 1")
        _check(self, not 0 < self.gamma <= 1, "gamma", "must be in (0, 1]")
        _check(self, not 0 <= self.lam <= 1, "lam", "must be in [0, 1]")
        _check(
            self,
            self.reward_norm not in PPO_REWARD_NORMS,
            "reward_norm",
            f"must be one of {PPO_REWARD_NORMS}",
        )
        _check(self, self.target_kl is not None and self.target_kl <= 0, "target_kl", "must be > 0")
        _check(self, self.reward_norm_samples < 2, "reward_norm_samples", "must be >= 2")
        _check(self, self.kl_horizon < 1, "kl_horizon", "must be >= 1")
        _check(self, self.critic not in PPO_CRITICS, "critic", f"must be one of {PPO_CRITICS}")
        _check(
            self,
            self.critic_learning_rate is not None and self.critic_learning_rate <= 0,
            "critic_learning_rate",
            "must be > 0",
        )


GRPO_LOSS_TYPES = ("grpo", "dr_grpo", "dapo")


@dataclass(frozen=True, kw_only=True)
class GRPOConfig(RolloutConfig):
    """GRPO: group-relative advantages over several samples per prompt, no value model."""

    kl_coef: float = 0.04
    # Completions sampled per prompt (the group); batch_size prompts are sampled per step.
    num_generations: int = 4
    # Reward-model run directory; exactly one of reward_model and reward_rule is set.
    reward_model: str | None = None
    # Name of a rule-based reward in training.ml.verifiers (e.g. "exact_answer",
    # "final_answer", "answer_format", "regex", "max_length").
    reward_rule: str | None = None
    # Keyword arguments of the rule (e.g. {"pattern": "\\d+"} for "regex").
    reward_rule_args: dict[str, Any] = field(default_factory=dict)
    # Optimisation passes over each batch of samples (1 = on-policy, the ratio is then 1).
    updates_per_batch: int = 1
    # How token losses become the batch loss: "grpo" (each sequence's token mean, then the mean
    # over sequences; Shao et al. 2024), "dr_grpo" (token sum over sequences x max_new_tokens,
    # advantages not divided by the group std; Liu et al. 2025, "Understanding R1-Zero-Like
    # Training"), "dapo" (mean over all completion tokens of the batch; Yu et al. 2025, DAPO).
    loss_type: str = "grpo"
    # A second reward, logged (train/monitor/mean, train/monitor/std) but never trained on:
    # a random-reward control run (reward_rule "random") keeps the reward of the run it
    # controls here, so the two runs can be compared on the same reward (issue 11). A reward
    # model run directory or a rule name, as for the reward; both None by default.
    monitor_model: str | None = None
    # The monitor reward's rule (training.ml.verifiers), instead of monitor_model.
    monitor_rule: str | None = None
    # Keyword arguments of monitor_rule.
    monitor_rule_args: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(
            self,
            self.monitor_model is not None and self.monitor_rule is not None,
            "monitor_model",
            "set at most one of monitor_model, monitor_rule",
        )
        _check(self, self.num_generations < 2, "num_generations", "must be >= 2")
        _check(
            self,
            self.loss_type not in GRPO_LOSS_TYPES,
            "loss_type",
            f"must be one of {', '.join(GRPO_LOSS_TYPES)}",
        )
        _check(self, self.updates_per_batch < 1, "updates_per_batch", "must be >= 1")
        both_or_neither = (self.reward_model is None) == (self.reward_rule is None)
        _check(
            self, both_or_neither, "reward_model", "set exactly one of reward_model, reward_rule"
        )


def _check_aggregate(config: Any) -> None:
    aggregate, weights = config.reward_aggregate, config.welfare_weights
    _check(config, aggregate not in REWARD_AGGREGATES, "reward_aggregate",
           f"must be one of {REWARD_AGGREGATES}")  # fmt: skip
    _check(config, aggregate != "pooled" and config.reward_group is not None, "reward_aggregate",
           "uses every latent cluster's model, not one group's (leave reward_group empty)")  # fmt: skip
    _check(config, aggregate != "pooled" and not getattr(config, "reward_model", None),
           "reward_aggregate", "needs a reward model run trained with latent_groups")  # fmt: skip
    _check(config, aggregate == "welfare" and not weights, "reward_aggregate",
           "needs welfare_weights (cluster number -> weight)")  # fmt: skip
    _check(config, aggregate != "welfare" and bool(weights), "welfare_weights",
           'applies to reward_aggregate "welfare" only')  # fmt: skip
    values = list(weights.values())
    bad = any(
        isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w < 0
        for w in values
    )
    _check(config, bad or bool(values and sum(values) <= 0), "welfare_weights",
           "must map cluster numbers to weights >= 0, not all 0")  # fmt: skip
