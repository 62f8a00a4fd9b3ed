"""GRPO: several samples per prompt, advantages relative to the group, no value model.

    loss = -1/G sum_i 1/|y_i| sum_t [min(rho_it A_i, clip(rho_it, 1-eps, 1+eps) A_i) - beta KL_it]
    with A_i = (r_i - mean(r_group)) / (std(r_group) + 1e-4),  KL_it = pi_ref/pi - log(pi_ref/pi) - 1

Paper: Shao et al. 2024, "DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open
Language Models" (arXiv:2402.03300), section 4.1.

Each step samples ``num_generations`` completions for each of ``batch_size`` prompts, scores
them with a reward model run directory or a rule from ``verifiers.RULES`` (``exact_answer``,
``regex``, ``max_length``), and makes ``updates_per_batch`` optimizer steps on them. The KL
term is the unbiased "k3" estimator to the frozen reference. A group whose samples all score
the same has zero advantage and teaches nothing but the KL term.

Example::

    python -m training.ml grpo --data prompts.jsonl --output-dir /tmp/grpo --config \\
        '{"base_model": "/tmp/sft", "reward_rule": "exact_answer", "num_generations": 8}'

    >>> train_grpo(GRPOConfig(base_model="/tmp/sft", reward_rule="regex",
    ...            reward_rule_args={"pattern": "42"}), "prompts.jsonl", "/tmp/grpo")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from training.ml.batches import encode_prompt
from training.ml.config import GRPOConfig
from training.ml.data import PromptRow, as_rows
from training.ml.logprobs import CompletionLogProbs, completion_logprobs
from training.ml.progress import ProgressCallback, StopCheck, TrainResult
from training.ml.rollout import masked_mean, sample
from training.ml.runtime import (
    Reporter,
    finish,
    frozen_dtype,
    load_tokenizer,
    make_accelerator,
    make_optimizer,
    mean_across,
    resolve_callbacks,
    save_pretrained,
    stop_requested,
)
from training.ml.verifiers import make_scorer


def group_advantages(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """(r - group mean) / (group std + 1e-4) for rewards laid out group after group."""
    grouped = rewards.view(-1, group_size)
    mean = grouped.mean(-1, keepdim=True)
    std = grouped.std(-1, keepdim=True)
    return ((grouped - mean) / (std + 1e-4)).view(-1)


def grpo_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor,
    ref_logps: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    cliprange: float,
    kl_coef: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Per-token clipped objective plus k3 KL, averaged per sequence then over sequences."""
    ratio = torch.exp(logps - old_logps)
    adv = advantages.unsqueeze(-1)
    surrogate = torch.min(ratio * adv, ratio.clamp(1 - cliprange, 1 + cliprange) * adv)
    log_ref_ratio = ref_logps - logps
    kl = torch.exp(log_ref_ratio) - log_ref_ratio - 1
    per_token = -(surrogate - kl_coef * kl)
    loss = masked_mean(per_token, mask, dim=-1).mean()
    clipped = ((ratio - 1).abs() > cliprange).float()
    return loss, {
        "kl": masked_mean(kl.detach(), mask),
        "clipfrac": masked_mean(clipped, mask),
    }


def train_grpo(
    config: GRPOConfig,
    data: Sequence[PromptRow] | str | Path,
    output_dir: str | Path,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
) -> TrainResult:
    """Optimise ``config.base_model`` with GRPO on the prompts in ``data``."""
    on_progress, should_stop = resolve_callbacks(on_progress, should_stop)
    output_dir = Path(output_dir)
    rows = [r for r in as_rows(data, PromptRow) if r.split != "eval"]
    accelerator = make_accelerator(config)
    device = accelerator.device
    score = make_scorer(
        config.reward_model,
        config.reward_rule,
        config.reward_rule_args,
        device,
        config.max_length,
        frozen_dtype(accelerator),
    )
    tokenizer = load_tokenizer(config.base_model)
    prompt_budget = max(8, config.max_length - config.max_new_tokens)
    prompts = [encode_prompt(tokenizer, r.prompt, prompt_budget) for r in rows]
    per_iteration = config.batch_size * accelerator.num_processes
    per_epoch = math.ceil(len(rows) / per_iteration)
    total_steps = config.max_steps or config.epochs * per_epoch
    reporter = Reporter(accelerator, on_progress, total_steps, per_epoch)
    source = config.reward_model or f"rule {config.reward_rule}"
    reporter.emit(0, {}, "setup", f"{len(rows)} prompts, reward from {source}")

    ref = AutoModelForCausalLM.from_pretrained(config.base_model, dtype=frozen_dtype(accelerator))
    ref = ref.to(device)
    ref.eval().requires_grad_(False)
    model = CompletionLogProbs(
        AutoModelForCausalLM.from_pretrained(config.base_model, dtype=torch.float32),
        temperature=config.temperature,
    )
    optimizer, scheduler = make_optimizer(
        model.parameters(), config, total_steps * config.updates_per_batch
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    rng = random.Random(config.seed + accelerator.process_index)
    order: list[int] = []
    G, cancelled, step = config.num_generations, False, 0
    metrics: dict[str, float] = {}

    while step < total_steps:
        if len(order) < config.batch_size:
            order += rng.sample(range(len(rows)), len(rows))
        picked, order = order[: config.batch_size], order[config.batch_size :]
        group_rows = [rows[i] for i in picked for _ in range(G)]
        model.eval()
        with accelerator.autocast():
            roll = sample(
                accelerator.unwrap_model(model).lm,
                tokenizer,
                [prompts[i] for i in picked for _ in range(G)],
                config.max_new_tokens,
                config.temperature,
            )
        w = roll.window()
        with torch.no_grad(), accelerator.autocast():
            rewards = score(group_rows, roll.texts)
            advantages = group_advantages(rewards, G)
            ref_logps = completion_logprobs(
                ref,
                roll.input_ids,
                roll.attention_mask,
                roll.completion_mask,
                temperature=config.temperature,
            ).logps[:, w]
            old = (
                model(roll.input_ids, roll.attention_mask, roll.completion_mask)
                if config.updates_per_batch > 1
                else None
            )
        model.train()
        # batch_size sequences per micro-batch, G micro-batches per optimizer step.
        chunks = [
            slice(k, k + config.batch_size) for k in range(0, len(group_rows), config.batch_size)
        ]
        logs: dict[str, list[float]] = {"loss": [], "kl": [], "clipfrac": []}
        for _ in range(config.updates_per_batch):
            for k, c in enumerate(chunks):
                sync = k == len(chunks) - 1
                with contextlib.nullcontext() if sync else accelerator.no_sync(model):
                    out = model(roll.input_ids[c], roll.attention_mask[c], roll.completion_mask[c])
                    logps, mask = out.logps[:, w], out.mask[:, w]
                    old_logps = old.logps[c, w] if old is not None else logps.detach()
                    loss, parts = grpo_loss(
                        logps,
                        old_logps,
                        ref_logps[c],
                        advantages[c],
                        mask,
                        config.cliprange,
                        config.kl_coef,
                    )
                    accelerator.backward(loss / len(chunks))
                logs["loss"].append(loss.item())
                logs["kl"].append(parts["kl"].item())
                logs["clipfrac"].append(parts["clipfrac"].item())
            if config.max_grad_norm:
                accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        step += 1

        mask = roll.completion_mask[:, 1:][:, w].float()
        metrics = {
            "reward/mean": rewards.mean().item(),
            "reward/std": rewards.std().item(),
            "reward/group_std": rewards.view(-1, G).std(-1).mean().item(),
            "completion_length": mask.sum(-1).mean().item(),
            "finished": roll.finished.float().mean().item(),
            "learning_rate": float(scheduler.get_last_lr()[0]),
            **{k: sum(v) / len(v) for k, v in logs.items()},
        }
        metrics = mean_across(accelerator, metrics)
        if step % config.log_every == 0 or step == total_steps:
            reporter.emit(step, {f"train/{k}": v for k, v in metrics.items()})
        if step < total_steps and stop_requested(accelerator, should_stop):
            cancelled = True
            break

    reporter.emit(step, {}, phase="save", message=f"saving to {output_dir}")
    save_pretrained(accelerator, accelerator.unwrap_model(model).lm, tokenizer, output_dir)
    final = {"train/prompts": len(rows), **{f"train/{k}": v for k, v in metrics.items()}}
    return finish(
        accelerator, reporter, config, output_dir, cancelled=cancelled, steps=step, final=final
    )
