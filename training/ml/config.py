"""Training configurations: frozen dataclasses, one per algorithm, JSON in and out.

Standard library only: the web process imports this module to validate and store a run's
configuration without loading torch.

Models and data have no defaults (``base_model``, ``reward_model``); hyperparameters do.
PPO's reward normalisation, adaptive KL controller and separate critic (``reward_norm``,
``target_kl``/``kl_horizon``, ``critic``; issue 11) are off by default and described with their
papers in ``training.ml.ppo``.
Reward and DPO can use a pair's 8-point strength (``strength``: "ignore" by default, "margin"
or "weight", with ``margin_scale``; issue 11), described in ``training.ml.reward`` / ``dpo``.
Reward runs choose a method (``method``: Bradley-Terry, group-conditioned, distributional or
length-disentangled) and may train an ensemble (``ensemble_size``; issue 15).
Every field is keyword-only, so a config reads like its JSON::

    >>> from training.ml.config import RewardConfig, to_dict, from_dict
    >>> cfg = RewardConfig(base_model="path/to/model", group_balance=True)
    >>> from_dict(RewardConfig, to_dict(cfg)) == cfg
    True
    >>> from_dict(RewardConfig, {"base_model": "m", "lr": 1e-5})
    Traceback (most recent call last):
    ...
    training.ml.config.ConfigError: RewardConfig: unknown field 'lr' (did you mean 'learning_rate'?)
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar


class ConfigError(ValueError):
    """A configuration is invalid; the message names the class and the field (``field``, when
    one field is to blame, so the web side can name it in a 400)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# Upper bounds of integer fields (no config field may exceed INT_MAX): a typo such as
# max_steps 10**30 is refused before a run is queued, not hours into it.
INT_MAX = 2**31 - 1
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

# (lowest, highest) of each SamplingSettings field, inclusive; top_p's lower end is exclusive.
SAMPLING_BOUNDS: dict[str, tuple[float, float]] = {
    "max_new_tokens": (1, 8192),
    "temperature": (0.0, 10.0),
    "top_p": (0.0, 1.0),
    "seed": (0, INT_MAX),
    "batch_size": (1, 1024),
    "max_prompt_tokens": (1, 131_072),
}


# Optimizers a run may choose (TrainConfig.optimizer); "adamw_8bit" needs bitsandbytes on CUDA.
OPTIMIZERS = ("adamw", "adamw_8bit")
# An Accelerate config's name (TrainConfig.accelerate_config): a file name, never a path.
ACCELERATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# LoRA target modules: "all-linear" or comma-separated module names.
TARGET_MODULES = re.compile(r"all-linear|[A-Za-z0-9_]+(,[A-Za-z0-9_]+)*")

# How RewardConfig / DPOConfig use a pair's 8-point strength (issue 11; see their `strength`).
STRENGTH_MODES = ("ignore", "margin", "weight")
# Reward-model methods (issue 15; RewardConfig.method): Bradley-Terry, group-conditioned,
# distributional (mean and variance), length-disentangled.
REWARD_METHODS = ("bt", "conditioned", "dpl", "odin")
# How an ensemble's members' scores become one score (RewardConfig.ensemble_mode).
ENSEMBLE_MODES = ("mean_std", "min")
# How PPO/GRPO turn a reward run's models into one reward (training.ml.welfare): its pooled
# model, the worst-off latent cluster's (MaxMin-RLHF) or a weighted social welfare.
REWARD_AGGREGATES = ("pooled", "maxmin", "welfare")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Hyperparameters shared by every trainer."""

    # Model to start from: a local directory in Hugging Face format or a hub id.
    base_model: str
    # Seed for weight initialisation of new heads, data shuffling and sampling.
    seed: int = 0
    # Peak learning rate of AdamW (linear warmup, then linear decay to zero).
    learning_rate: float = 1e-5
    # Fraction of the optimizer steps spent warming the learning rate up from zero.
    warmup_ratio: float = 0.0
    # AdamW weight decay.
    weight_decay: float = 0.0
    # Gradients are clipped to this global L2 norm; 0 disables clipping.
    max_grad_norm: float = 1.0
    # Examples (pairs for preference training, prompts for PPO/GRPO) per device per micro-batch.
    batch_size: int = 8
    # Micro-batches whose gradients are summed before one optimizer step.
    grad_accumulation: int = 1
    # Passes over the training data.
    epochs: int = 1
    # If set, stop after this many optimizer steps (rollout iterations for PPO/GRPO),
    # overriding ``epochs``.
    max_steps: int | None = None
    # Longest tokenised sequence (prompt + completion); the oldest prompt tokens are dropped first.
    max_length: int = 512
    # Share of prompts held out for evaluation when no row carries a "split"; rows of one
    # prompt_id always land on the same side.
    eval_fraction: float = 0.1
    # Emit a progress event every this many optimizer steps.
    log_every: int = 1
    # Mixed precision: None picks bf16 when a CUDA device supports it, fp32 otherwise. Trained
    # weights stay float32 (master weights); with LoRA the frozen base is held in bf16.
    bf16: bool | None = None
    # LoRA rank (Hu et al. 2021, through the peft library): 0 trains every weight (full
    # fine-tune); r > 0 freezes the base model and trains rank-r adapters on the
    # lora_target_modules (a reward model's score head is trained whole). DPO's and PPO/GRPO's
    # reference is then the base model with the adapters switched off: no second copy.
    lora_r: int = 0
    # LoRA scale numerator: an adapter's update is multiplied by lora_alpha / lora_r.
    lora_alpha: int = 16
    # Dropout on the adapters' input (the base model's own dropout stays off).
    lora_dropout: float = 0.0
    # Layers that get adapters: "all-linear" (every linear layer but the output head) or
    # comma-separated module names, e.g. "q_proj,v_proj".
    lora_target_modules: str = "all-linear"
    # With lora_r > 0: output_dir holds the adapters merged into the base model (a plain
    # transformers model) and the adapters move to output_dir/adapter. Off: output_dir holds
    # the adapters only (adapter_config.json; transformers with peft loads them on the base).
    merge_adapters: bool = False
    # QLoRA (Dettmers et al. 2023): hold the frozen base in 4-bit NF4. Needs lora_r > 0, a CUDA
    # GPU and the bitsandbytes package; refused otherwise.
    qlora: bool = False
    # Recompute each layer's activations in the backward pass instead of keeping them: about
    # 30 % slower, activation memory falls to one hidden state per layer and token.
    gradient_checkpointing: bool = False
    # "adamw" (torch's AdamW, fused on CUDA) or "adamw_8bit" (bitsandbytes' 8-bit AdamW: a
    # quarter of the optimizer state; CUDA only, refused otherwise).
    optimizer: str = "adamw"
    # Name of an Accelerate config file (e.g. FSDP over several GPUs) in the server's
    # CHORUS_ACCELERATE_CONFIGS directory; the worker launches the trainer with it. Empty:
    # one process (or CHORUS_TRAINING_GPUS data-parallel processes).
    accelerate_config: str = ""

    def __post_init__(self) -> None:
        _check(self, not self.base_model, "base_model", "must be a non-empty path or hub id")
        _check(self, self.learning_rate <= 0, "learning_rate", "must be > 0")
        _check(self, not 0 <= self.warmup_ratio < 1, "warmup_ratio", "must be in [0, 1)")
        _check(self, self.weight_decay < 0, "weight_decay", "must be >= 0")
        _check(self, self.max_grad_norm < 0, "max_grad_norm", "must be >= 0")
        _check(self, self.batch_size < 1, "batch_size", "must be >= 1")
        _check(self, self.grad_accumulation < 1, "grad_accumulation", "must be >= 1")
        _check(self, self.epochs < 1, "epochs", "must be >= 1")
        _check(self, self.max_steps is not None and self.max_steps < 1, "max_steps", "must be >= 1")
        _check(self, self.max_length < 8, "max_length", "must be >= 8")
        _check(self, not 0 <= self.eval_fraction < 1, "eval_fraction", "must be in [0, 1)")
        _check(self, self.log_every < 1, "log_every", "must be >= 1")
        _check(self, not 0 <= self.lora_r <= 4096, "lora_r", "must be in [0, 4096]")
        _check(self, self.lora_alpha < 1, "lora_alpha", "must be >= 1")
        _check(self, not 0 <= self.lora_dropout < 1, "lora_dropout", "must be in [0, 1)")
        bad_targets = not TARGET_MODULES.fullmatch(self.lora_target_modules)
        _check(self, bad_targets, "lora_target_modules", 'must be "all-linear" or names a,b,c')
        needs_lora = (self.merge_adapters or self.qlora) and not self.lora_r
        _check(self, needs_lora and self.qlora, "qlora", "needs lora_r > 0")
        _check(self, needs_lora, "merge_adapters", "needs lora_r > 0")
        _check(self, self.optimizer not in OPTIMIZERS, "optimizer", f"must be one of {OPTIMIZERS}")
        bad_name = self.accelerate_config and not ACCELERATE_NAME.fullmatch(self.accelerate_config)
        _check(self, bool(bad_name), "accelerate_config", "must be a config name, not a path")


@dataclass(frozen=True, kw_only=True)
class RewardConfig(TrainConfig):
    """Reward model: a scalar head on any backbone, trained with the Bradley-Terry loss."""

    learning_rate: float = 1e-5
    # Reweight pairs so that every labeler group carries the same total weight, rather than
    # counting in proportion to how many pairs it labeled.
    group_balance: bool = False
    # Also train one reward model per labeler group (besides the pooled one) and report the
    # cross-group accuracy matrix: group g's model on group h's held-out pairs.
    per_group: bool = False
    # How a pair's 8-point strength (the row's optional `strength`, 0..1) is used: "ignore"
    # (default), "margin" (loss -log s(r_c - r_r - margin_scale * strength), Llama 2) or
    # "weight" (the pair's weight times (1 + 3 * strength) / 4). Rows without one: margin 0,
    # factor 1.
    strength: str = "ignore"
    # With strength "margin": the margin of a "much better" pair (strength 1). 1.0 gives
    # Llama 2's small margins 1, 2/3, 1/3, 0; 3.0 its large ones 3, 2, 1, 0.
    margin_scale: float = 1.0
    # Also fit the controls of training.ml.controls on the same split: a length-only baseline
    # and a shuffled-label linear head on the frozen base model's features (issue 11).
    controls: bool = True
    # How many label shuffles the shuffled-label control averages (mean and spread).
    control_shuffles: int = 5
    # The model: "bt" (one scalar, Bradley-Terry), "conditioned" (one model r(x, y, g) for
    # every group, the group a token of the input; training.ml.reward_conditioned), "dpl" (a
    # mean and a log std per response, distributional preference learning; training.ml.dpl) or
    # "odin" (a quality head and a length head, RL uses quality; training.ml.odin).
    method: str = "bt"
    # Reward models trained with seeds seed, seed+1, ... and scored together, with the spread
    # as the uncertainty (Coste et al. 2023; training.ml.ensemble); 1 is no ensemble.
    ensemble_size: int = 1
    # How the ensemble's scores become one: "mean_std" (mean - ensemble_lambda x std) or "min"
    # (the worst case over members).
    ensemble_mode: str = "mean_std"
    # The uncertainty penalty lambda of ensemble_mode "mean_std" (0 scores by the mean).
    ensemble_lambda: float = 1.0
    # ODIN: weight of the length term |corr(quality, length)| - corr(length head, length).
    odin_length_weight: float = 1.0
    # ODIN: weight of the orthogonality term |w_quality . w_length| of the two heads.
    odin_ortho_weight: float = 1.0
    # DPL: how many pairs with the highest sigma the run page lists.
    dpl_top_pairs: int = 20
    # Latent groups (MaxMin-RLHF's EM, Chakraborty et al. 2024): also cluster the labelers by
    # their judgments into this many preference types, one reward model each, without reading
    # any group attribute (training.ml.latent_groups); the run page compares the clusters with
    # the declared groups. 0 = off; needs at least this many labelers in the data.
    latent_groups: int = 0
    # Latent groups: EM rounds (each trains every cluster's model, then reassigns labelers).
    latent_iterations: int = 4
    # Padding-free packing (training.ml.packing): a micro-batch's sequences laid end to end in
    # a few rows, the prompt shared by the completions compared on it, with position_ids and a
    # block attention mask so no sequence sees another: the same rewards/log-probs as padded
    # batches, for less compute. Used with causal decoders (SDPA, eager or flash attention);
    # encoders and sliding-window models are padded whatever this says.
    packing: bool = True
    # Compile the backbone with torch.compile (dynamic shapes): the first steps are slower while
    # it compiles; pays on a GPU over a long run, not for small models on CPU (see the README's
    # benchmark).
    torch_compile: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_strength(self, allowed=STRENGTH_MODES)
        _check(self, self.control_shuffles < 1, "control_shuffles", "must be >= 1")
        _check(
            self, self.method not in REWARD_METHODS, "method", f"must be one of {REWARD_METHODS}"
        )
        _check(
            self,
            self.strength == "margin" and self.method in ("dpl", "odin"),
            "strength",
            "'margin' applies to methods bt and conditioned only",
        )
        _check(self, not 1 <= self.ensemble_size <= 16, "ensemble_size", "must be in 1..16")
        _check(
            self,
            self.ensemble_mode not in ENSEMBLE_MODES,
            "ensemble_mode",
            f"must be one of {ENSEMBLE_MODES}",
        )
        _check(self, self.ensemble_lambda < 0, "ensemble_lambda", "must be >= 0")
        _check(self, self.odin_length_weight < 0, "odin_length_weight", "must be >= 0")
        _check(self, self.odin_ortho_weight < 0, "odin_ortho_weight", "must be >= 0")
        _check(self, self.dpl_top_pairs < 1, "dpl_top_pairs", "must be >= 1")
        _check(
            self,
            self.latent_groups == 1 or self.latent_groups < 0,
            "latent_groups",
            "must be 0 (off) or at least 2",
        )
        _check(self, self.latent_iterations < 1, "latent_iterations", "must be >= 1")
        _check(
            self,
            self.latent_groups > 0 and self.method != "bt",
            "latent_groups",
            "applies to method bt only (one Bradley-Terry model per latent type)",
        )
        _check(
            self,
            self.method == "conditioned" and self.lora_r > 0,
            "lora_r",
            "method conditioned needs full fine-tuning (lora_r 0): its group tokens' embeddings "
            "must train",
        )
        _check(
            self,
            self.latent_groups > 0 and self.lora_r > 0,
            "lora_r",
            "latent groups train one full model per type: set lora_r 0 (or latent_groups 0)",
        )


@dataclass(frozen=True, kw_only=True)
class DPOConfig(TrainConfig):
    """Direct Preference Optimization against a frozen copy of the base model."""

    learning_rate: float = 1e-6
    # Inverse temperature of the implicit reward; smaller stays closer to the reference.
    beta: float = 0.1
    # Reweight pairs so that every labeler group carries the same total weight, rather than
    # counting in proportion to how many pairs it labeled.
    group_balance: bool = False
    # (The reference log-probs are cached in <output_dir>/ref_logps.pt, reused when their
    # fingerprint (model, data, max_length) matches; the path is not configurable, so a run
    # writes only inside its own directory.)
    # How a pair's 8-point strength (the row's optional `strength`, 0..1) is used: "ignore"
    # (default), "margin" (ODPO-style offset: -log s(beta * (chosen - rejected log-ratio) -
    # margin_scale * strength), Amini et al. 2024) or "weight" (the pair's weight times
    # (1 + 3 * strength) / 4). Rows without one: offset 0, factor 1.
    strength: str = "ignore"
    # With strength "margin": the offset of a "much better" pair (strength 1), in implicit
    # reward units (beta * log-ratio).
    margin_scale: float = 1.0
    # Also fit a length-only baseline on the same split and store the held-out implicit-reward
    # accuracy per group beside it (training.ml.controls; issue 11).
    controls: bool = True
    # Group-robust DPO (Ramesh et al. 2024): minimise the worst labeler group's loss, sum_g
    # alpha_g L_g with the group weights alpha raised each step toward the groups whose loss is
    # highest (training.ml.robust_dpo), instead of the average over pairs. Needs labeler groups in
    # the data; not with group_balance (alpha already weighs the groups).
    group_robust: bool = False
    # Group-robust DPO: step size of the group weights, alpha_g <- alpha_g exp(robust_eta L_g);
    # larger moves weight to the worst group faster (0 keeps alpha uniform: every group's mean
    # loss counts the same).
    robust_eta: float = 0.1
    # Padding-free packing (training.ml.packing): a micro-batch's sequences laid end to end in
    # a few rows, the prompt shared by the completions compared on it, with position_ids and a
    # block attention mask so no sequence sees another: the same rewards/log-probs as padded
    # batches, for less compute. Used with causal decoders (SDPA, eager or flash attention);
    # encoders and sliding-window models are padded whatever this says.
    packing: bool = True
    # Compile the backbone with torch.compile (dynamic shapes): the first steps are slower while
    # it compiles; pays on a GPU over a long run, not for small models on CPU (see the README's
    # benchmark).
    torch_compile: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self, self.beta <= 0, "beta", "must be > 0")
        _check_strength(self, allowed=STRENGTH_MODES)
        _check(self, self.robust_eta < 0, "robust_eta", "must be >= 0")
        _check(
            self,
            self.group_robust and self.group_balance,
            "group_robust",
            "cannot be used with group_balance (the group weights alpha replace balancing)",
        )


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


@dataclass(frozen=True, kw_only=True)
class SFTConfig(TrainConfig):
    """Supervised fine-tuning on demonstrations, loss on completion tokens only."""

    learning_rate: float = 2e-5


@dataclass(frozen=True)
class SamplingSettings:
    """How completions are sampled; recorded on every completion (Completion.generation_settings)."""

    # Tokens generated per completion at most.
    max_new_tokens: int = 64
    # Softmax temperature; 0 means greedy decoding.
    temperature: float = 1.0
    # Nucleus sampling: keep the smallest set of tokens with this much probability.
    top_p: float = 1.0
    # Base seed; batch b is seeded with seed + b.
    seed: int = 0
    # (prompt, sample) pairs per forward batch, or concurrent requests for the HTTP path.
    batch_size: int = 8
    # Prompt tokens kept at most (the most recent ones).
    max_prompt_tokens: int = 512

    def __post_init__(self) -> None:
        for name, (low, high) in SAMPLING_BOUNDS.items():
            value = getattr(self, name)
            integer = isinstance(SamplingSettings.__dataclass_fields__[name].default, int)
            kind = int if integer else (int, float)
            if isinstance(value, bool) or not isinstance(value, kind):
                raise ConfigError(f"{name} must be {'an integer' if integer else 'a number'}", name)
            above_low = value > low if name == "top_p" else value >= low
            if not (math.isfinite(value) and above_low and value <= high):
                low_text = f"> {low}" if name == "top_p" else f">= {low}"
                raise ConfigError(
                    f"{name} must be {low_text} and <= {high}, got {value!r:.40}", name
                )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def _check_strength(config: Any, allowed: tuple[str, ...]) -> None:
    _check(config, config.strength not in allowed, "strength", f"must be one of {allowed}")
    _check(config, config.margin_scale < 0, "margin_scale", "must be >= 0")


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


def _check(config: object, bad: bool, name: str, message: str) -> None:
    if bad:
        value = getattr(config, name)
        raise ConfigError(
            f"{type(config).__name__}: field {name!r} {message}, got {value!r:.60}", name
        )


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
