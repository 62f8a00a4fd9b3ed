"""Parameter-efficient training: LoRA / QLoRA adapters (the ``peft`` library), set in place on a
transformers model, and the memory switches every trainer shares.

    h = W x + (lora_alpha / r) B A x,   A: r x in (random), B: out x r (zeros), W frozen

Papers: Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models"
(arXiv:2106.09685); Dettmers et al. 2023, "QLoRA" (arXiv:2305.14314): W held in 4-bit NF4.

With ``lora_r`` 0 (the default) nothing here changes a run: the model loads in float32 and
every weight trains. With ``lora_r`` > 0 the adapters are added through transformers' peft
integration (``model.add_adapter``), so the trainers keep a plain transformers model; its
``save_pretrained`` then writes only the adapters (``adapter_config.json``,
``adapter_model.safetensors``), which ``PeftModel.from_pretrained(base, dir)`` loads (and which
``AutoModel*.from_pretrained(dir)`` loads too when peft is installed). Because B starts at zero
the untrained policy *is* the base model, and the base model is the policy with its adapters
switched off (``adapters_off``, ``Reference``): DPO's reference log-probs and PPO/GRPO's
reference model cost no second copy. ``merge_adapters`` folds the adapters into the base
weights after training (``save_trained``).

The frozen base is held in the compute dtype (bf16 under mixed precision), the adapters in
float32 (master weights); full fine-tuning keeps float32 master weights with bf16 autocast.

Example::

    python -m training.ml dpo --config '{"base_model": "/tmp/tiny", "lora_r": 8,
        "merge_adapters": true}' --data pairs.jsonl --output-dir /tmp/dpo-lora
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from transformers import PreTrainedTokenizerBase

from training.ml import memory
from training.ml.config import ConfigError, TrainConfig, to_dict
from training.ml.memory import Estimate
from training.ml.runtime import disable_dropout, frozen_dtype, process_state, save_pretrained

ADAPTER_DIR = "adapter"  # with merge_adapters: where the adapters go inside output_dir
HEADS = ("score", "classifier")  # sequence-classification heads, trained whole under LoRA


def cuda_bitsandbytes() -> bool:
    """Whether bitsandbytes' CUDA kernels can run here (QLoRA, 8-bit AdamW)."""
    return torch.cuda.is_available() and importlib.util.find_spec("bitsandbytes") is not None


def check_support(config: TrainConfig) -> None:
    """ConfigError naming the field when the run asks for what this machine cannot do."""
    if config.qlora and not cuda_bitsandbytes():
        raise ConfigError(
            "qlora needs a CUDA GPU and the bitsandbytes package (pip install bitsandbytes); "
            "this machine has " + ("no CUDA GPU" if not torch.cuda.is_available() else "no bitsandbytes")
            + ". Use lora_r without qlora.",
            "qlora",
        )  # fmt: skip
    if config.optimizer == "adamw_8bit" and not cuda_bitsandbytes():
        raise ConfigError(
            'optimizer "adamw_8bit" needs a CUDA GPU and the bitsandbytes package; use "adamw"',
            "optimizer",
        )


def check_memory(kind: str, config: TrainConfig, budget: int | None = None) -> Estimate | None:
    """The run's memory estimate for this process's device (training.ml.memory; None when the
    base model is not a local directory); ConfigError when it exceeds ``budget`` bytes, by
    default the device's memory (the GPU's, or the machine's RAM on CPU)."""
    state = process_state()
    sharded = os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true"
    found = memory.estimate(
        kind=kind, config=to_dict(config), device=state.device.type,
        processes=state.num_processes, sharded=sharded,
    )  # fmt: skip
    if found is None:
        return None
    if budget is None:
        if state.device.type == "cuda":
            budget = int(torch.cuda.get_device_properties(state.device).total_memory)
        else:
            budget = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    where = f"this {state.device.type.upper()} device" if state.device.type == "cuda" else "RAM"
    message = memory.refusal(found, budget, where)
    if message:
        raise ConfigError(message, "batch_size")
    return found


def lora_config(config: TrainConfig, model: torch.nn.Module) -> Any:
    from peft import LoraConfig

    targets = config.lora_target_modules
    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=targets if targets == "all-linear" else targets.split(","),
        modules_to_save=[h for h in HEADS if hasattr(model, h)] or None,
        base_model_name_or_path=config.base_model,
    )


def load_trainable(
    cls: Any, config: TrainConfig, accelerator: Accelerator, **kwargs: Any
) -> torch.nn.Module:
    """``cls.from_pretrained(config.base_model)`` made ready to train, dropout off: float32 for
    a full fine-tune; with LoRA the base frozen in the compute dtype (4-bit with ``qlora``) and
    float32 adapters. Gradient checkpointing as configured."""
    check_support(config)
    extra: dict[str, Any] = {}
    if config.qlora:
        from transformers import BitsAndBytesConfig

        extra["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=frozen_dtype(accelerator),
        )
    dtype = frozen_dtype(accelerator) if config.lora_r else torch.float32
    model = disable_dropout(cls.from_pretrained(config.base_model, dtype=dtype, **kwargs, **extra))
    if config.qlora:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, config.gradient_checkpointing)
    if config.gradient_checkpointing:
        options = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x's name
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=options)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=options)
        model.config.use_cache = False
    if config.lora_r:
        model.add_adapter(lora_config(config, model))
        for param in model.parameters():
            if param.requires_grad:  # adapters (and a score head): float32 master weights
                param.data = param.data.float()
    return model  # type: ignore[no-any-return]


def has_adapters(model: Any) -> bool:
    return bool(getattr(model, "_hf_peft_config_loaded", False))


@contextlib.contextmanager
def adapters_off(model: Any) -> Iterator[None]:
    """The base model, for the duration: the adapters of ``model`` are switched off (nothing
    happens to a model without adapters)."""
    if not has_adapters(model):
        yield
        return
    model.disable_adapters()
    try:
        yield
    finally:
        model.enable_adapters()


class Reference:
    """The frozen reference of PPO/GRPO as a view of the LoRA policy ``model``: every call
    made through it (``generate``, the backbone, the head) runs with the adapters switched off,
    so the reference is the base model and no second copy is loaded. Attributes read through
    it are the model's (wrapped again where callable); attributes set go to the model."""

    def __init__(self, model: Any, target: Any = None):
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_target", model if target is None else target)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if isinstance(value, torch.nn.Module) or (
            callable(value) and not isinstance(value, torch.Tensor | type)
        ):
            return Reference(self._model, value)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with adapters_off(self._model):
            return self._target(*args, **kwargs)


def reference_model(
    config: TrainConfig, policy_lm: torch.nn.Module, accelerator: Accelerator
) -> Any:
    """PPO/GRPO's frozen reference: the LoRA policy with adapters off, or (full fine-tune) a
    second copy of the base model in the compute dtype."""
    if config.lora_r:
        return Reference(policy_lm)
    from transformers import AutoModelForCausalLM

    ref = AutoModelForCausalLM.from_pretrained(config.base_model, dtype=frozen_dtype(accelerator))
    ref = disable_dropout(ref).to(accelerator.device)
    return ref.eval().requires_grad_(False)


def save_trained(
    accelerator: Accelerator,
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    output_dir: Path,
    config: TrainConfig,
) -> None:
    """Save a trained model: the whole model, or (LoRA) its adapters; with ``merge_adapters``
    the adapters go to ``output_dir/adapter`` and ``output_dir`` gets the merged model, a plain
    transformers model in float32."""
    if not (config.lora_r and config.merge_adapters):
        save_pretrained(accelerator, model, tokenizer, output_dir)
        return
    adapter_dir = output_dir / ADAPTER_DIR
    save_pretrained(accelerator, model, tokenizer, adapter_dir)
    if accelerator.is_main_process:
        from peft import PeftModel

        base_config = copy.deepcopy(model.config)
        if hasattr(base_config, "quantization_config"):
            del base_config.quantization_config  # merge into full-precision weights
        base = type(model).from_pretrained(  # type: ignore[attr-defined]
            config.base_model, config=base_config, dtype=torch.float32
        )
        merged = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
        merged.save_pretrained(output_dir, safe_serialization=True)
        tokenizer.save_pretrained(output_dir)
    accelerator.wait_for_everyone()
