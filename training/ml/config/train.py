"""TrainConfig, the hyperparameters every trainer shares, and SFTConfig, which adds none.

Models and data have no defaults (``base_model``); hyperparameters do. Every field is
keyword-only and commented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from training.ml.config.checks import _check

# Optimizers a run may choose (TrainConfig.optimizer); "adamw_8bit" needs bitsandbytes on CUDA.
OPTIMIZERS = ("adamw", "adamw_8bit")
# An Accelerate config's name (TrainConfig.accelerate_config): a file name, never a path.
ACCELERATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# LoRA target modules: "all-linear" or comma-separated module names.
TARGET_MODULES = re.compile(r"all-linear|[A-Za-z0-9_]+(,[A-Za-z0-9_]+)*")


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
class SFTConfig(TrainConfig):
    """Supervised fine-tuning on demonstrations, loss on completion tokens only."""

    learning_rate: float = 2e-5
