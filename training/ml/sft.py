"""Supervised fine-tuning on demonstrations, the first step of the InstructGPT recipe.

    loss = -sum_t m_t log pi(y_t | x, y_<t) / sum_t m_t      (m_t = 1 on completion tokens only)

Paper: Ouyang et al. 2022, "Training language models to follow instructions with human
feedback" (InstructGPT), section 3.5 "Supervised fine-tuning".

Prompt tokens are context, never targets; the loss is the mean over completion tokens of each
micro-batch. Held-out loss and perplexity are reported at the end.

Example::

    python -m training.ml tiny --output-dir /tmp/tiny
    python -m training.ml sft --config '{"base_model": "/tmp/tiny", "learning_rate": 1e-4}' \\
        --data demos.jsonl --output-dir /tmp/sft

    >>> result = train_sft(SFTConfig(base_model="/tmp/tiny"), "demos.jsonl", "/tmp/sft")
    ...                                                                      # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
from accelerate import Accelerator
from transformers import AutoModelForCausalLM

from training.ml.adapters import load_trainable, save_trained
from training.ml.batches import (
    Encoded,
    collate_sequences,
    encode,
    length_grouped_batches,
    shard,
    to_device,
)
from training.ml.config import SFTConfig
from training.ml.data import DataError, SFTRow, as_rows, split_rows
from training.ml.logprobs import CompletionLogProbs, LogProbs
from training.ml.progress import ProgressCallback, StopCheck, TrainResult
from training.ml.runtime import (
    Reporter,
    finish,
    last_train_metrics,
    load_tokenizer,
    make_accelerator,
    make_optimizer,
    planned_steps,
    resolve_callbacks,
    steps_per_epoch,
    train_loop,
)


def sft_loss(out: LogProbs) -> torch.Tensor:
    """Mean negative log-likelihood of the completion tokens."""
    return -out.logps.sum() / out.mask.sum().clamp(min=1)


def train_sft(
    config: SFTConfig,
    data: Sequence[SFTRow] | str | Path,
    output_dir: str | Path,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
) -> TrainResult:
    """Fine-tune ``config.base_model`` on demonstrations; the model is saved in ``output_dir``."""
    on_progress, should_stop = resolve_callbacks(on_progress, should_stop)
    output_dir = Path(output_dir)
    rows = as_rows(data, SFTRow)
    train_rows, eval_rows = split_rows(rows, config.eval_fraction, config.seed)
    if not train_rows:
        raise DataError("no training rows (every row has split 'eval')")
    accelerator = make_accelerator(config)
    tokenizer = load_tokenizer(config.base_model)
    pad_id = tokenizer.pad_token_id
    train = [encode(tokenizer, r.prompt, r.completion, config.max_length) for r in train_rows]
    held_out = [encode(tokenizer, r.prompt, r.completion, config.max_length) for r in eval_rows]
    lengths = [len(e) for e in train]

    def plan(epoch: int) -> list[list[int]]:
        batches = length_grouped_batches(lengths, config.batch_size, config.seed + epoch)
        return shard(batches, accelerator.process_index, accelerator.num_processes)

    total_steps = planned_steps(config, len(plan(0)))
    reporter = Reporter(
        accelerator, on_progress, total_steps, steps_per_epoch(config, len(plan(0)))
    )
    reporter.emit(0, {}, "setup", f"{len(train)} train / {len(held_out)} eval demonstrations")

    model = CompletionLogProbs(load_trainable(AutoModelForCausalLM, config, accelerator))
    optimizer, scheduler = make_optimizer(model.parameters(), config, total_steps)
    model, optimizer = accelerator.prepare(model, optimizer)

    def step(indices: list[int]) -> tuple[torch.Tensor, dict[str, float]]:
        batch = to_device(
            collate_sequences([train[i] for i in indices], pad_id), accelerator.device
        )
        out = model(batch["input_ids"], batch["attention_mask"], batch["completion_mask"])
        loss = sft_loss(out)
        return loss, {"loss": loss.item(), "tokens": out.mask.sum().item()}

    steps, cancelled = train_loop(
        accelerator=accelerator,
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        config=config,
        plan=plan,
        step_fn=step,
        reporter=reporter,
        should_stop=should_stop,
        total_steps=total_steps,
    )

    final: dict[str, object] = {"train/examples": len(train), "eval/examples": len(held_out)}
    final.update(last_train_metrics(reporter))
    if held_out:
        nll, tokens = eval_nll(accelerator, model, held_out, pad_id, config.batch_size)
        evals = {
            "eval/loss": nll / max(tokens, 1),
            "eval/perplexity": math.exp(min(nll / max(tokens, 1), 50)),
        }
        reporter.emit(steps, evals, phase="eval")
        final.update(evals)
    reporter.emit(steps, {}, phase="save", message=f"saving to {output_dir}")
    save_trained(accelerator, accelerator.unwrap_model(model).lm, tokenizer, output_dir, config)
    return finish(
        accelerator, reporter, config, output_dir, cancelled=cancelled, steps=steps, final=final
    )


@torch.no_grad()
def eval_nll(
    accelerator: Accelerator,
    model: torch.nn.Module,
    items: Sequence[Encoded],
    pad_id: int,
    batch_size: int,
) -> tuple[float, float]:
    """(summed NLL, completion tokens) over ``items``, summed across processes."""
    model.eval()
    batches = length_grouped_batches([len(e) for e in items], batch_size, 0, shuffle=False)
    totals = torch.zeros(2, device=accelerator.device)
    for indices in batches[accelerator.process_index :: accelerator.num_processes]:
        batch = to_device(
            collate_sequences([items[i] for i in indices], pad_id), accelerator.device
        )
        out = model(batch["input_ids"], batch["attention_mask"], batch["completion_mask"])
        totals += torch.stack([-out.logps.sum(), out.mask.sum()])
    model.train()
    if accelerator.num_processes > 1:
        totals = accelerator.reduce(totals, reduction="sum")
    return totals[0].item(), totals[1].item()
