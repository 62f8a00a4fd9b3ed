"""How much memory a run needs per device, estimated before it starts, from the model's files.

Standard library only: the web process shows the estimate on the run form and refuses a run that
cannot fit (CHORUS_TRAINING_MEMORY_GB); the trainer checks it against its device at start.

    total = weights + gradients + optimizer state + autocast copies + activations + logits
            + frozen models (PPO/GRPO reference, reward model) + KV cache (sampling) + runtime

- Parameters are counted from the ``*.safetensors`` headers (JSON: every tensor's shape and
  dtype), the layer sizes read from ``config.json``; nothing is loaded.
- Weights: 4 bytes per parameter (float32 master weights) for a full fine-tune; with LoRA the
  frozen base in the compute dtype (2 bytes under bf16, 0.5 + 2 % with QLoRA's 4-bit linear
  layers) and the adapters in float32. Gradients 4 bytes and AdamW 8 bytes (8-bit AdamW: 2) per
  *trained* parameter. bf16 autocast of a full fine-tune keeps a bf16 copy of every weight for
  the step (2 bytes). FSDP (an Accelerate config that shards) divides weights, gradients and
  optimizer state by the number of processes.
- Activations per micro-batch: tokens x layers x (ACT_HIDDEN x hidden + ACT_MLP x intermediate)
  elements saved for the backward pass (the residual stream, norms, q/k/v, attention output,
  the gated MLP's gate/up/product), in the activation dtype, plus in + 2 x out of every
  adapted linear layer under LoRA (measured); with gradient checkpointing, one hidden state per
  layer and token plus three layers' worth (the recomputed layer, its gradients, autograd's
  working copies; measured). Tokens are counted at
  ``max_length`` (the worst case: batches pad to their longest row). The chunked LM head keeps
  at most one chunk of logits (three float32 copies: logits, log-softmax, its exponential).
- Loading (CPU only): the checkpoint's file pages, resident while the weights are read.
- Runtime: the CUDA context and libraries (RUNTIME_CUDA), or on CPU the Python process with
  torch and transformers loaded (RUNTIME_CPU).

Measured (tests/training/ml/test_memory.py, CPU, float32): the estimate less its runtime part
against the growth of the trainer's peak resident memory, within 20 %. GPU figures (bf16,
QLoRA, FSDP over GPUs) are not measured yet.

    >>> parts = estimate_parts(kind="sft", config={"batch_size": 1, "max_length": 8,
    ...     "lora_r": 0}, shape=ModelShape(params=1000, hidden=8, intermediate=16, layers=1,
    ...     vocab=10, linears=()), device="cpu")
    >>> parts["weights"], parts["gradients"], parts["optimizer"]
    (4000, 4000, 8000)
"""

from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GIB = 2**30
# Elements saved per token and layer for the backward pass, per unit of hidden / intermediate
# size: a Llama-style block in eager autograd (residual stream, two norms with their float32
# upcasts, q/k/v before and after rotary embeddings, attention output, the gated MLP's gate,
# up, activation and product), checked against CPU measurements (test_memory.py). Korthikanti
# et al. 2022 count 34 h bytes in fp16 for a GPT block, attention scores included.
ACT_HIDDEN = 16
ACT_MLP = 6
RUNTIME_CUDA = int(0.75 * GIB)  # CUDA context, cuBLAS/cuDNN workspaces
RUNTIME_CPU = int(0.6 * GIB)  # Python + torch + transformers + tokenizers, resident
LOGIT_CHUNK = 1024  # training.ml.logprobs.DEFAULT_CHUNK
DTYPE_BYTES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I8": 1, "U8": 1}


@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs to know of a model, read from its files."""

    params: int
    hidden: int
    intermediate: int
    layers: int
    vocab: int
    # (name, in_features, out_features) of every 2-D weight outside embeddings and the LM head:
    # the layers LoRA may adapt.
    linears: tuple[tuple[str, int, int], ...]
    # Bytes of the safetensors files.
    file_bytes: int = 0
    # Parameters of the LM head, when it is not tied to the embeddings (a reward model drops it).
    lm_head: int = 0
    kv_dim: int = 0


@dataclass(frozen=True)
class Estimate:
    """Bytes per device, by part."""

    parts: dict[str, int] = field(default_factory=dict)
    processes: int = 1

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    def summary(self) -> str:
        shown = ", ".join(f"{k} {v / GIB:.2f}" for k, v in self.parts.items() if v >= GIB / 1000)
        per = " per device" if self.processes > 1 else ""
        return f"about {self.total / GIB:.2f} GiB{per} ({shown} GiB)"


def read_shape(path: str | Path) -> ModelShape | None:
    """The shape of the model in directory ``path`` (None when it is not a local directory with
    config.json and safetensors files, e.g. a hub id not downloaded)."""
    root = Path(path)
    files = sorted(root.glob("*.safetensors")) if root.is_dir() else []
    if not files or not (root / "config.json").is_file():
        return None
    config = json.loads((root / "config.json").read_text())
    text = config.get("text_config") or config
    params, lm_head, linears = 0, 0, []
    for f in files:
        for name, shape in _tensor_shapes(f):
            count = math.prod(shape)
            params += count
            if "lm_head" in name:
                lm_head += count
            elif len(shape) == 2 and name.endswith(".weight") and "embed" not in name:
                linears.append((name.removesuffix(".weight"), shape[1], shape[0]))
    heads = text.get("num_attention_heads", 1)
    hidden = text.get("hidden_size", 0)
    head_dim = text.get("head_dim") or hidden // max(heads, 1)
    return ModelShape(
        params=params,
        hidden=hidden,
        intermediate=text.get("intermediate_size", 4 * hidden),
        layers=text.get("num_hidden_layers", 0),
        vocab=text.get("vocab_size", 0),
        linears=tuple(linears),
        lm_head=lm_head,
        file_bytes=sum(f.stat().st_size for f in files),
        kv_dim=text.get("num_key_value_heads", heads) * head_dim,
    )


def _tensor_shapes(path: Path) -> list[tuple[str, list[int]]]:
    """(name, shape) of every tensor of a safetensors file, from its JSON header."""
    with path.open("rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(min(size, 100_000_000)))
    return [(k, v["shape"]) for k, v in header.items() if k != "__metadata__"]


def lora_params(shape: ModelShape, r: int, targets: str) -> int:
    """Adapter parameters: r x (in + out) for every targeted linear layer."""
    return r * lora_io(shape, targets)


def lora_io(shape: ModelShape, targets: str, out_factor: int = 1) -> int:
    """in + out_factor x out features, summed over the linear layers that get adapters."""
    wanted = None if targets == "all-linear" else set(targets.split(","))
    return sum(
        i + out_factor * o
        for name, i, o in shape.linears
        if wanted is None or name.split(".")[-1] in wanted
    )


def sequences_per_step(kind: str, config: dict[str, Any]) -> int:
    """Sequences in one forward-backward micro-batch."""
    batch = int(config.get("batch_size", 8))
    if kind in ("reward", "dpo"):
        return 2 * batch  # chosen and rejected
    if kind == "grpo":
        return batch * int(config.get("num_generations", 4))
    if kind == "ppo":
        return int(config.get("mini_batch_size", 4))
    return batch


def estimate_parts(
    *,
    kind: str,
    config: dict[str, Any],
    shape: ModelShape,
    device: str = "cuda",
    processes: int = 1,
    sharded: bool = False,
    reward_shape: ModelShape | None = None,
) -> dict[str, int]:
    """Bytes per device by part, for a run of ``kind`` with trainer ``config`` (a dict of
    training.ml.config fields; defaults where absent) on ``device`` ("cuda" or "cpu")."""
    bf16 = config.get("bf16")
    bf16 = device == "cuda" if bf16 is None else bool(bf16)
    act = 2 if bf16 else 4
    r = int(config.get("lora_r", 0))
    head = shape.hidden if kind == "reward" else 0  # a reward model's score head, trained whole
    params = shape.params - (shape.lm_head if kind == "reward" else 0) + head
    if r:
        trained = lora_params(shape, r, config.get("lora_target_modules", "all-linear")) + head
        linear = sum(i * o for _, i, o in shape.linears)
        base = (linear * 0.52 + (params - linear) * 2) if config.get("qlora") else params * act
        weights = int(base) + 4 * trained
    else:
        trained, weights = params, 4 * params
    state = 2 if config.get("optimizer") == "adamw_8bit" else 8
    split = processes if sharded else 1
    tokens = sequences_per_step(kind, config) * int(config.get("max_length", 512))
    per_layer = ACT_HIDDEN * shape.hidden + ACT_MLP * shape.intermediate
    if config.get("gradient_checkpointing"):  # layer inputs; one layer recomputed, its grads
        activations = tokens * act * (shape.layers * shape.hidden + 3 * per_layer)
    else:
        activations = tokens * act * shape.layers * per_layer
    if r:  # measured: an adapted layer keeps about in + 2 x out elements more per token
        targets = config.get("lora_target_modules", "all-linear")
        extra = tokens * act * lora_io(shape, targets, out_factor=2)
        checkpointed = config.get("gradient_checkpointing") and shape.layers
        activations += 3 * extra // shape.layers if checkpointed else extra
    parts = {
        "weights": weights // split,
        "gradients": 4 * trained // split,
        "optimizer": state * trained // split,
        "autocast": 2 * params if bf16 and not r else 0,
        "activations": activations,
        "logits": 3 * 4 * min(tokens, LOGIT_CHUNK) * shape.vocab if kind != "reward" else 0,
    }
    if kind in ("ppo", "grpo"):
        parts.update(_rollout_parts(kind, config, shape, act, r, reward_shape))
    if device == "cpu":  # the checkpoint's pages, mapped while loading, count as resident
        parts["loading"] = shape.file_bytes
    parts["runtime"] = RUNTIME_CUDA if device == "cuda" else RUNTIME_CPU
    return parts


def _rollout_parts(
    kind: str,
    config: dict[str, Any],
    shape: ModelShape,
    act: int,
    r: int,
    reward_shape: ModelShape | None,
) -> dict[str, int]:
    """PPO/GRPO extras: the frozen reference (none with LoRA), the reward model, the KV cache."""
    batch = int(config.get("batch_size", 8))
    samples = batch * int(config.get("num_generations", 4)) if kind == "grpo" else batch
    length = int(config.get("max_length", 512))
    kv = samples * length * shape.layers * 2 * (shape.kv_dim or shape.hidden) * act
    return {
        "reference": 0 if r else shape.params * act,
        "reward_model": reward_shape.params * act if reward_shape else 0,
        "kv_cache": kv,
    }


def estimate(
    *,
    kind: str,
    config: dict[str, Any],
    device: str = "cuda",
    processes: int = 1,
    sharded: bool = False,
) -> Estimate | None:
    """The estimate for a run whose base model is a local directory (None otherwise)."""
    shape = read_shape(config["base_model"])
    if shape is None:
        return None
    reward = config.get("reward_model")
    parts = estimate_parts(
        kind=kind, config=config, shape=shape, device=device, processes=processes,
        sharded=sharded, reward_shape=read_shape(reward) if reward else None,
    )  # fmt: skip
    return Estimate(parts=parts, processes=processes)


def refusal(found: Estimate, budget: int, where: str) -> str | None:
    """The message refusing a run whose estimate exceeds ``budget`` bytes (None if it fits)."""
    if found.total <= budget:
        return None
    return (
        f"The run needs {found.summary()}, more than the {budget / GIB:.2f} GiB of {where}. "
        "Lower batch_size or max_length, turn on gradient_checkpointing, train LoRA adapters "
        "(lora_r 8 to 64) or shard the model over several GPUs (accelerate_config)."
    )


def accelerate_processes(text: str) -> tuple[int, bool]:
    """(num_processes, sharded) of an Accelerate config file's text (YAML; read by pattern,
    the web process has no YAML parser): sharded for FSDP, or DeepSpeed ZeRO stage 3."""
    found = re.search(r"^\s*num_processes:\s*(\d+)", text, re.MULTILINE)
    processes = int(found.group(1)) if found else 1
    fsdp = re.search(r"^\s*distributed_type:\s*['\"]?FSDP", text, re.MULTILINE)
    zero3 = re.search(r"^\s*zero_stage:\s*3", text, re.MULTILINE)
    return processes, bool(fsdp or zero3)
