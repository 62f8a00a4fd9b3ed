"""Plumbing every trainer shares: device and precision, seeds, dropout, optimizer, progress,
saving.

Distribution is Hugging Face Accelerate's: the same code runs on one CPU, one GPU, or several
GPUs under ``accelerate launch -m training.ml ...`` / ``torchrun`` (DDP). Each process takes
its share of the batches (``batches.shard``); only the main process reports and writes files.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch
from accelerate import Accelerator, PartialState
from accelerate.utils import (
    DistributedType,
    FullyShardedDataParallelPlugin,
    parse_flag_from_env,
    set_seed,
)
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from training.ml.config import TrainConfig, to_dict
from training.ml.progress import (
    ProgressCallback,
    ProgressEvent,
    StopCheck,
    TrainResult,
    never_stop,
    no_progress,
)

log = logging.getLogger(__name__)

M = TypeVar("M", bound=torch.nn.Module)


def use_bf16(config: TrainConfig) -> bool:
    if config.bf16 is not None:
        return config.bf16
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def on_cpu() -> bool:
    """No accelerator device here: Accelerate must be told, or processes started by
    ``accelerate launch``/``torchrun`` on a CPU machine each run alone instead of joining one
    gloo group (tests/training/ml/test_distributed.py)."""
    available = getattr(torch, "accelerator", None)
    if available is not None and hasattr(available, "is_available"):
        return not available.is_available()
    return not torch.cuda.is_available()


def process_state() -> PartialState:
    """This process's place among the launched ones (CPU processes join a gloo group)."""
    return PartialState(cpu=on_cpu())


def make_accelerator(config: TrainConfig) -> Accelerator:
    """Accelerator with bf16 autocast when asked for (or available), seeded everywhere.

    Under an Accelerate config with ``distributed_type: FSDP`` on CPU processes, FSDP is switched
    on (``shard_on_cpu``): Accelerate 1.16 itself keeps CPU processes data-parallel."""
    state = process_state()
    cpu = on_cpu()
    accelerator = Accelerator(mixed_precision="bf16" if use_bf16(config) else "no", cpu=cpu)
    if cpu and state.num_processes > 1 and parse_flag_from_env("ACCELERATE_USE_FSDP"):
        shard_on_cpu(accelerator)
    set_seed(config.seed)
    return accelerator


def shard_on_cpu(accelerator: Accelerator) -> None:
    """Let Accelerate's own FSDP2 path (``fully_shard`` over a gloo device mesh) prepare models
    on CPU processes.

    Accelerate 1.16 turns ``ACCELERATE_USE_FSDP`` into ``DistributedType.FSDP`` only for
    accelerator devices (``AcceleratorState.__init__``); on CPU it stays ``MULTI_CPU`` (DDP).
    torch's FSDP2 runs on CPU with gloo, so the state is set as Accelerate would set it on GPUs,
    with the plugin it built from the config file; FSDP1 (``fsdp_version: 1``) is left alone.
    """
    plugin = FullyShardedDataParallelPlugin()  # from the FSDP_* variables `accelerate launch` set
    if plugin.fsdp_version != 2:
        return
    state = accelerator.state
    state.distributed_type = DistributedType.FSDP
    state.fsdp_plugin = plugin
    PartialState._shared_state["distributed_type"] = DistributedType.FSDP


def frozen_dtype(accelerator: Accelerator) -> torch.dtype:
    """Weights of models that are never trained (reference, reward scorer): the compute dtype.

    Trained models always load with ``dtype=torch.float32`` (master weights): transformers 5
    otherwise keeps a checkpoint's own dtype, and AdamW on bf16 weights loses small updates.
    """
    return torch.bfloat16 if accelerator.mixed_precision == "bf16" else torch.float32


def load_tokenizer(path: str) -> PreTrainedTokenizerBase:
    """The model's tokenizer; EOS doubles as padding when it has no pad token."""
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError(f"{path}: tokenizer has neither a pad nor an EOS token")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def disable_dropout(model: M) -> M:
    """Switch dropout off for good, in train mode too (TRL's ``disable_dropout_in_model``), so
    a policy's log-probs during updates match those taken at rollout time and the reference's:
    every ``nn.Dropout`` gets p = 0, and so do float attributes named like ``attention_dropout``
    (dropout applied functionally, as Llama's attention does). Returns ``model``."""
    for module in model.modules():
        if isinstance(module, torch.nn.modules.dropout._DropoutNd):
            module.p = 0.0
        rates = [k for k, v in vars(module).items() if "dropout" in k and isinstance(v, float)]
        for name in rates:
            setattr(module, name, 0.0)
    return model


def make_optimizer(
    params: Iterable[torch.nn.Parameter], config: TrainConfig, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW (fused on CUDA and CPU, as transformers' Trainer: one kernel for all parameters; bitsandbytes' 8-bit AdamW with
    ``optimizer`` "adamw_8bit") with linear warmup then linear decay to
    zero over ``total_steps``. Call after ``make_accelerator``."""
    trained = [p for p in params if p.requires_grad]
    optimizer: torch.optim.Optimizer
    if config.optimizer == "adamw_8bit":  # refused off CUDA by adapters.check_support
        import bitsandbytes  # type: ignore[import-not-found]

        optimizer = bitsandbytes.optim.AdamW8bit(
            trained, lr=config.learning_rate, weight_decay=config.weight_decay
        )
    else:
        optimizer = torch.optim.AdamW(
            trained,
            lr=config.learning_rate,
            weight_decay=config.weight_decay,
            fused=PartialState().device.type in ("cuda", "cpu"),
        )
    warmup = math.ceil(config.warmup_ratio * total_steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def compile_backbone(model: M, enabled: bool) -> M:
    """With ``enabled``, ``torch.compile`` the transformer backbone in place (dynamic shapes, as
    packed rows vary in length): parameter names, saving and the heads are unchanged."""
    if enabled:
        model.base_model.compile(dynamic=True)  # type: ignore[operator,union-attr]
    return model


def steps_per_epoch(config: TrainConfig, batches_per_epoch: int) -> int:
    return max(1, math.ceil(batches_per_epoch / config.grad_accumulation))


def planned_steps(config: TrainConfig, batches_per_epoch: int | Sequence[int]) -> int:
    """Optimizer steps for the run: ``max_steps`` if set, else the steps of every epoch.

    ``batches_per_epoch`` is one count for all epochs, or each epoch's own count: batches that
    keep a ranking's pairs together pack into a number that depends on the lengths and on each
    epoch's shuffle, so the schedule (which decays to zero at the planned step) must be planned
    from the batches really made (issue 11)."""
    if config.max_steps:
        return config.max_steps
    if isinstance(batches_per_epoch, int):
        return config.epochs * steps_per_epoch(config, batches_per_epoch)
    return sum(steps_per_epoch(config, n) for n in batches_per_epoch)


def stop_requested(accelerator: Accelerator, should_stop: StopCheck) -> bool:
    """``should_stop()``, agreed across processes (any process asking stops them all)."""
    flag = torch.tensor([1.0 if should_stop() else 0.0], device=accelerator.device)
    if accelerator.num_processes > 1:
        flag = accelerator.reduce(flag, reduction="sum")
    return bool(flag.item() > 0)


def mean_across(accelerator: Accelerator, values: dict[str, float]) -> dict[str, float]:
    """Average scalar metrics over processes."""
    if accelerator.num_processes == 1 or not values:
        return values
    keys = sorted(values)
    tensor = torch.tensor([values[k] for k in keys], device=accelerator.device)
    tensor = accelerator.reduce(tensor, reduction="mean")
    return dict(zip(keys, tensor.tolist(), strict=True))


class Reporter:
    """Sends progress events (main process only) and keeps the history for metrics.json."""

    def __init__(
        self,
        accelerator: Accelerator,
        on_progress: ProgressCallback | None,
        total_steps: int,
        steps_per_epoch: int,
    ):
        self.accelerator = accelerator
        self.on_progress = on_progress or no_progress
        self.total_steps = total_steps
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.history: list[dict[str, Any]] = []
        self.started = time.monotonic()
        # Put before every metric name: a run training several models (per-group reward runs)
        # keys each model's curves apart, e.g. "group/<name>/" (set with `model`).
        self.prefix = ""

    def model(self, prefix: str, total_steps: int) -> None:
        """The next events are about another model: its metrics get ``prefix``, and its steps
        count from 0 to its own ``total_steps`` (progress is "step N of M" per model)."""
        self.prefix, self.total_steps = prefix, total_steps

    def emit(
        self, step: int, metrics: dict[str, float], phase: str = "train", message: str = ""
    ) -> None:
        metrics = {self.prefix + k: float(v) for k, v in metrics.items()}
        epoch = round(step / self.steps_per_epoch, 4)
        if metrics:
            self.history.append({"step": step, "epoch": epoch, "phase": phase, **metrics})
        if self.accelerator.is_main_process:
            self.on_progress(
                ProgressEvent(
                    step=step,
                    total_steps=self.total_steps,
                    epoch=epoch,
                    metrics=metrics,
                    phase=phase,
                    message=message,
                )
            )

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def last_train_metrics(reporter: Reporter) -> dict[str, float]:
    """The most recent "train/..." metrics in the history (empty before the first step)."""
    for entry in reversed(reporter.history):
        found = {k: v for k, v in entry.items() if k.startswith("train/")}
        if entry["phase"] == "train" and found:
            return found
    return {}


def peak_memory_bytes(accelerator: Accelerator) -> int:
    """Peak memory of this process so far: torch's allocator peak on CUDA, the peak resident
    set size (ru_maxrss) on CPU, which includes the Python runtime and libraries."""
    if accelerator.device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(accelerator.device))
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def device_memory_bytes(accelerator: Accelerator) -> int:
    """Memory of this process's device: the GPU's total, or the machine's RAM on CPU."""
    if accelerator.device.type == "cuda":
        return int(torch.cuda.get_device_properties(accelerator.device).total_memory)
    import os

    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def write_metrics(
    output_dir: Path, config: TrainConfig, final: dict[str, Any], history: list[dict[str, Any]]
) -> None:
    """``metrics.json``: the final metrics, their history and the config that produced them."""
    payload = {"final": final, "history": history, "config": to_dict(config)}
    (output_dir / "metrics.json").write_text(json.dumps(payload, indent=2, sort_keys=True))


def save_pretrained(
    accelerator: Accelerator,
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    output_dir: Path,
) -> None:
    """Save an HF model (already unwrapped from any wrapper of ours) and its tokenizer.

    Every process calls it. Under FSDP2 the weights are shards (DTensors): they are gathered
    first into one full state dict on the main process's CPU (a collective), which is saved."""
    accelerator.wait_for_everyone()
    state_dict = None
    if accelerator.is_fsdp2:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        full = StateDictOptions(full_state_dict=True, cpu_offload=True)
        state_dict = get_model_state_dict(model, options=full)
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(  # type: ignore[operator]
            output_dir, state_dict=state_dict, safe_serialization=True
        )
        tokenizer.save_pretrained(output_dir)
    accelerator.wait_for_everyone()


def shard_fraction(optimizer: torch.optim.Optimizer) -> float:
    """This process's share of the trained parameters (and so of their gradients and AdamW
    state): 1 unsharded, about 1/N under FSDP over N processes, where the optimizer holds each
    parameter's local shard (a DTensor sharded on dim 0)."""
    from torch.distributed.tensor import DTensor

    params = [p for group in optimizer.param_groups for p in group["params"]]
    local = sum(p.to_local().numel() if isinstance(p, DTensor) else p.numel() for p in params)
    return local / max(1, sum(p.numel() for p in params))


def finish(
    accelerator: Accelerator,
    reporter: Reporter,
    config: TrainConfig,
    output_dir: Path,
    *,
    cancelled: bool,
    steps: int,
    final: dict[str, Any],
) -> TrainResult:
    """Write metrics.json, report "done", and build the result."""
    final = {**final, "train/runtime_s": round(reporter.elapsed, 3), "cancelled": cancelled}
    final["memory/peak_gb"] = round(peak_memory_bytes(accelerator) / 2**30, 4)
    final["train/processes"] = accelerator.num_processes
    if accelerator.is_main_process:
        write_metrics(output_dir, config, final, reporter.history)
    message = "cancelled" if cancelled else "finished"
    scalars = {
        k: v for k, v in final.items() if isinstance(v, int | float) and not isinstance(v, bool)
    }
    reporter.emit(steps, scalars, phase="done", message=message)
    return TrainResult(
        output_dir=str(output_dir),
        cancelled=cancelled,
        steps=steps,
        total_steps=reporter.total_steps,
        metrics=final,
    )


def resolve_callbacks(
    on_progress: ProgressCallback | None, should_stop: StopCheck | None
) -> tuple[ProgressCallback, StopCheck]:
    return on_progress or no_progress, should_stop or never_stop


def train_loop(
    *,
    accelerator: Accelerator,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LambdaLR,
    config: TrainConfig,
    plan: Callable[[int], list[list[int]]],
    step_fn: Callable[[list[int]], tuple[torch.Tensor, dict[str, float]]],
    reporter: Reporter,
    should_stop: StopCheck,
    total_steps: int,
) -> tuple[int, bool]:
    """The supervised loop of reward, DPO and SFT training; returns (steps, cancelled).

    ``plan(epoch)`` gives this process's batches (lists of example indices) for an epoch;
    ``step_fn(indices)`` returns the loss of one micro-batch and its metrics. Gradients of
    ``grad_accumulation`` micro-batches are summed (without DDP sync until the last) before each
    optimizer step; metrics are averaged over the step's micro-batches and over processes.
    ``should_stop`` is polled after every optimizer step.
    """
    step = 0
    model.train()
    sharding = {"fsdp_shard_fraction": shard_fraction(optimizer)} if accelerator.is_fsdp2 else {}
    for epoch in itertools.count():
        if step >= total_steps or (config.max_steps is None and epoch >= config.epochs):
            break
        batches = plan(epoch)
        window: list[dict[str, float]] = []
        for i, indices in enumerate(batches):
            boundary = (i + 1) % config.grad_accumulation == 0 or i == len(batches) - 1
            sync = contextlib.nullcontext() if boundary else accelerator.no_sync(model)
            with sync:
                loss, metrics = step_fn(indices)
                accelerator.backward(loss / config.grad_accumulation)
            window.append(metrics)
            if not boundary:
                continue
            extra = {}
            if config.max_grad_norm:
                norm = accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                extra["grad_norm"] = float(norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if step % config.log_every == 0 or step == total_steps:
                averaged = {k: sum(m[k] for m in window) / len(window) for k in window[0]}
                averaged = mean_across(accelerator, {**averaged, **extra, **sharding})
                averaged["learning_rate"] = float(scheduler.get_last_lr()[0])
                reporter.emit(step, {f"train/{k}": v for k, v in averaged.items()})
            window = []
            if step >= total_steps:
                return step, False
            if stop_requested(accelerator, should_stop):
                return step, True
    return step, False
