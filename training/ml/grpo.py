"""GRPO: several samples per prompt, advantages relative to the group, no value model.

    loss = -1/G sum_i 1/|y_i| sum_t [min(rho_it A_i, clip(rho_it, 1-eps, 1+eps) A_i) - beta KL_it]
    with A_i = (r_i - mean(r_group)) / (std(r_group) + 1e-4),  KL_it = pi_ref/pi - log(pi_ref/pi) - 1

Paper: Shao et al. 2024, "DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open
Language Models" (arXiv:2402.03300), section 4.1.

Each step samples ``num_generations`` completions for each of ``batch_size`` prompts, scores
them with a reward model run directory or a rule from ``verifiers.RULES`` (``exact_answer``,
``final_answer``, ``answer_format``, ``regex``, ``max_length``, ``random``), and makes
``updates_per_batch`` optimizer steps on them. The KL term is the unbiased "k3" estimator to
the frozen reference. A group whose samples all score the same has zero advantage and teaches
nothing but the KL term.

``loss_type`` (issue 11) picks how token losses l_it (the bracket above, negated) make the
batch loss over the step's N sequences:

- ``grpo`` (default, as before): 1/N sum_i 1/|y_i| sum_t l_it, the paper's form. A long
  sequence's tokens each weigh less, which Liu et al. 2025 show biases towards long wrong
  answers.
- ``dr_grpo``: 1/(N L) sum_i sum_t l_it with L = ``max_new_tokens`` a constant, and advantages
  not divided by the group's std (which favours prompts that are too easy or too hard): Liu
  et al. 2025, "Understanding R1-Zero-Like Training: A Critical Perspective" (Dr. GRPO).
- ``dapo``: sum_i sum_t l_it / sum_i |y_i|, every token of the batch weighs the same: Yu et
  al. 2025, "DAPO: An Open-Source LLM Reinforcement Learning System at Scale" (the token-level
  loss only; clip-higher and dynamic sampling are not implemented).

The step's samples run in micro-batches whose losses are normalised by the whole batch's
sequence and token counts, so they add up to the loss above whatever the chunking.

Also from issue 11: rollouts sample the plain policy (``rollout.sample``), dropout is off in
policy and reference (``runtime.disable_dropout``; ``train/ratio_dev`` logs mean |ratio - 1|),
a reward model scores the generated token ids, and ``missing_eos_penalty`` (off by default)
is taken off the reward of completions cut at ``max_new_tokens``; see ppo.py.

Controls (issue 11): with ``reward_rule`` "random" the rule's generator is seeded with the
run's ``seed`` unless ``reward_rule_args`` sets one; ``monitor_rule`` / ``monitor_model`` is a
second reward that is only logged (``train/monitor/mean``, ``train/monitor/std``), so a
random-reward control run reports the reward of the run it controls on its own samples
(``train/reward/raw`` and ``train/reward/raw_std`` are the trained reward before the EOS
penalty).

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

from training.ml.adapters import load_trainable, reference_model, save_trained
from training.ml.batches import encode_prompt
from training.ml.config import GRPOConfig
from training.ml.data import PromptRow, as_rows
from training.ml.logprobs import CompletionLogProbs, completion_logprobs
from training.ml.progress import ProgressCallback, StopCheck, TrainResult
from training.ml.rollout import Rollout, masked_mean, missing_eos_penalty, sample
from training.ml.runtime import (
    Reporter,
    finish,
    frozen_dtype,
    load_tokenizer,
    make_accelerator,
    make_optimizer,
    mean_across,
    resolve_callbacks,
    stop_requested,
)
from training.ml.verifiers import Scorer, make_scorer, reward_options, scorer_metrics


def group_advantages(rewards: torch.Tensor, group_size: int, scale: bool = True) -> torch.Tensor:
    """(r - group mean) / (group std + 1e-4) for rewards laid out group after group; without
    ``scale``, r - group mean (Dr. GRPO)."""
    grouped = rewards.view(-1, group_size)
    centred = grouped - grouped.mean(-1, keepdim=True)
    if not scale:
        return centred.view(-1)
    return (centred / (grouped.std(-1, keepdim=True) + 1e-4)).view(-1)


def grpo_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor,
    ref_logps: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    cliprange: float,
    kl_coef: float,
    loss_type: str = "grpo",
    max_tokens: int | None = None,
    batch_rows: int | None = None,
    batch_tokens: float | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Per-token clipped objective plus k3 KL, reduced by ``loss_type`` (module docstring).

    ``max_tokens`` is Dr. GRPO's constant L (default: the width of ``mask``); ``batch_rows``
    and ``batch_tokens`` are the sequences and completion tokens of the whole step when these
    tensors are one micro-batch of it (default: these tensors'), so micro-batch losses sum to
    the step's loss.
    """
    ratio = torch.exp(logps - old_logps)
    adv = advantages.unsqueeze(-1)
    surrogate = torch.min(ratio * adv, ratio.clamp(1 - cliprange, 1 + cliprange) * adv)
    log_ref_ratio = ref_logps - logps
    kl = torch.exp(log_ref_ratio) - log_ref_ratio - 1
    per_token = -(surrogate - kl_coef * kl)
    rows = batch_rows if batch_rows is not None else mask.size(0)
    if loss_type == "grpo":
        loss = masked_mean(per_token, mask, dim=-1).sum() / rows
    elif loss_type == "dr_grpo":
        loss = (per_token * mask).sum() / (rows * (max_tokens or mask.size(1)))
    elif loss_type == "dapo":
        tokens = batch_tokens if batch_tokens is not None else mask.sum()
        loss = (per_token * mask).sum() / max(float(tokens), 1.0)
    else:
        raise ValueError(f"unknown GRPO loss_type {loss_type!r}")
    clipped = ((ratio - 1).abs() > cliprange).float()
    return loss, {
        "kl": masked_mean(kl.detach(), mask),
        "clipfrac": masked_mean(clipped, mask),
        "ratio_dev": masked_mean((ratio.detach() - 1).abs(), mask),
    }


def score_monitor(
    monitor: Scorer | None, rows: Sequence[PromptRow], roll: Rollout
) -> dict[str, float]:
    """The monitor reward's mean and std over the rollout (``GRPOConfig.monitor_rule``), {}
    without one: never trained on, only logged."""
    if monitor is None:
        return {}
    values = monitor(rows, roll).float()
    return {"monitor/mean": values.mean().item(), "monitor/std": values.std().item()}


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
    tokenizer = load_tokenizer(config.base_model)
    rule_args = config.reward_rule_args
    if config.reward_rule == "random" and "seed" not in rule_args:
        rule_args = {**rule_args, "seed": config.seed + accelerator.process_index}
    score = make_scorer(
        config.reward_model,
        config.reward_rule,
        rule_args,
        device,
        config.max_length,
        frozen_dtype(accelerator),
        policy_tokenizer=tokenizer,
        **reward_options(config),
    )
    monitor = (
        make_scorer(
            config.monitor_model,
            config.monitor_rule,
            config.monitor_rule_args,
            device,
            config.max_length,
            frozen_dtype(accelerator),
            policy_tokenizer=tokenizer,
        )
        if config.monitor_model or config.monitor_rule
        else None
    )
    prompt_budget = max(8, config.max_length - config.max_new_tokens)
    prompts = [encode_prompt(tokenizer, r.prompt, prompt_budget) for r in rows]
    per_iteration = config.batch_size * accelerator.num_processes
    per_epoch = math.ceil(len(rows) / per_iteration)
    total_steps = config.max_steps or config.epochs * per_epoch
    reporter = Reporter(accelerator, on_progress, total_steps, per_epoch)
    source = config.reward_model or f"rule {config.reward_rule}"
    reporter.emit(0, {}, "setup", f"{len(rows)} prompts, reward from {source}")

    lm = load_trainable(AutoModelForCausalLM, config, accelerator)
    ref = reference_model(config, lm, accelerator)  # LoRA: lm with its adapters off
    model = CompletionLogProbs(lm, temperature=config.temperature)
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
            raw_rewards = score(group_rows, roll)
            monitored = score_monitor(monitor, group_rows, roll)
            rewards = missing_eos_penalty(raw_rewards, roll.finished, config.missing_eos_penalty)
            advantages = group_advantages(rewards, G, scale=config.loss_type != "dr_grpo")
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
        logs: dict[str, list[float]] = {"loss": [], "kl": [], "clipfrac": [], "ratio_dev": []}
        batch_tokens = roll.completion_mask.sum().item()
        for _ in range(config.updates_per_batch):
            step_loss = 0.0
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
                        loss_type=config.loss_type,
                        max_tokens=config.max_new_tokens,
                        batch_rows=len(group_rows),
                        batch_tokens=batch_tokens,
                    )
                    accelerator.backward(loss)
                step_loss += loss.item()
                logs["kl"].append(parts["kl"].item())
                logs["clipfrac"].append(parts["clipfrac"].item())
                logs["ratio_dev"].append(parts["ratio_dev"].item())
            logs["loss"].append(step_loss)
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
            "reward/raw": raw_rewards.mean().item(),
            "reward/raw_std": raw_rewards.std().item(),
            **monitored,
            **scorer_metrics(score),
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
    save_trained(accelerator, accelerator.unwrap_model(model).lm, tokenizer, output_dir, config)
    final = {"train/prompts": len(rows), **{f"train/{k}": v for k, v in metrics.items()}}
    return finish(
        accelerator, reporter, config, output_dir, cancelled=cancelled, steps=step, final=final
    )
