"""PPO against a learned reward model, with a per-token KL penalty to the reference policy.

    loss = E_t[max(-A_t rho_t, -A_t clip(rho_t, 1-eps, 1+eps))] + c_v E_t[max((V-R)^2, (V_clip-R)^2)] / 2
    with rho_t = pi(y_t)/pi_old(y_t),  r_t = -lambda_KL (log pi_old(y_t) - log pi_ref(y_t)) + [t = T] r_theta(x, y)

Papers: Schulman et al. 2017, "Proximal Policy Optimization Algorithms"; Ziegler et al. 2019,
"Fine-Tuning Language Models from Human Preferences"; Ouyang et al. 2022 (InstructGPT),
section 3.5 "Reinforcement learning (RL)".

Each iteration: sample one completion for each of ``batch_size`` prompts; score them with the
reward model (at the last token); per-token rewards are the KL penalty plus, on the last
token, that score; advantages by GAE (gamma, lam) from the value head; then ``ppo_epochs``
passes of clipped-surrogate + clipped value loss over minibatches. The value head is a linear
layer on the policy's own backbone (InstructGPT uses a separate value model initialised from
the reward model; sharing halves the memory). The policy is saved as a plain causal LM.

On-policy details (issue 11):

- Rollouts sample from exactly the distribution the ratio and KL score (``rollout.sample``
  ignores the checkpoint's generation_config: no repetition penalty, top-k, ...).
- Dropout is off in the policy and the reference, during rollouts and updates alike
  (``runtime.disable_dropout``, as TRL): otherwise the ratio of an unchanged policy is not 1
  (|ratio - 1| was 0.03-0.04 with dropout 0.1). ``train/ratio_dev`` logs mean |ratio - 1|.
- The reward model scores the token ids that were generated, read at the last real token
  (``verifiers.RewardModelScorer``); ``missing_eos_penalty`` (off by default, as TRL) is taken
  off the score of every completion cut at ``max_new_tokens`` without an EOS, as in
  lm-human-preferences (Ziegler et al. 2019) and TRL.

Example::

    python -m training.ml ppo --config '{"base_model": "/tmp/sft", "reward_model": "/tmp/rm"}' \\
        --data prompts.jsonl --output-dir /tmp/ppo

    >>> train_ppo(PPOConfig(base_model="/tmp/sft", reward_model="/tmp/rm"), "prompts.jsonl",
    ...           "/tmp/ppo")                                                # doctest: +SKIP
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from transformers import AutoModelForCausalLM

from training.ml.batches import encode_prompt
from training.ml.config import PPOConfig
from training.ml.data import PromptRow, as_rows
from training.ml.logprobs import LogProbs, completion_logprobs
from training.ml.progress import ProgressCallback, StopCheck, TrainResult
from training.ml.rollout import masked_mean, missing_eos_penalty, sample
from training.ml.runtime import (
    Reporter,
    disable_dropout,
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


class PolicyWithValue(nn.Module):
    """A causal LM and a scalar value head on its last hidden states."""

    def __init__(self, lm: nn.Module, temperature: float = 1.0):
        super().__init__()
        self.lm = lm
        self.temperature = temperature
        hidden = lm.config.get_text_config().hidden_size  # type: ignore[operator, union-attr]
        self.value_head = nn.Linear(hidden, 1)
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, completion_mask: torch.Tensor
    ) -> tuple[LogProbs, torch.Tensor]:
        """(log-probs, values): the value at position t estimates the return before token t+1."""
        out = completion_logprobs(
            self.lm,
            input_ids,
            attention_mask,
            completion_mask,
            temperature=self.temperature,
            return_hidden=True,
        )
        assert out.hidden is not None
        v = self.value_head(out.hidden.to(self.value_head.weight.dtype)).squeeze(-1).float()
        return out, torch.zeros_like(out.logps).masked_scatter(out.mask.bool(), v)


def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantages, returns) by generalised advantage estimation over (batch, T) tensors whose
    ``mask`` is a prefix of ones (the completion); the value after the last token is 0."""
    values = values * mask
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.size(1))):
        next_value = values[:, t + 1] if t + 1 < rewards.size(1) else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = (delta + gamma * lam * last) * mask[:, t]
        advantages[:, t] = last
    return advantages, advantages + values


def whiten(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mean = masked_mean(values, mask)
    var = masked_mean((values - mean) ** 2, mask)
    return (values - mean) * torch.rsqrt(var + 1e-8) * mask


def ppo_losses(
    logps: torch.Tensor,
    old_logps: torch.Tensor,
    advantages: torch.Tensor,
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    cliprange: float,
    cliprange_value: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(policy loss, value loss, clip fraction), token means over ``mask``."""
    ratio = torch.exp(logps - old_logps)
    pg = torch.max(-advantages * ratio, -advantages * ratio.clamp(1 - cliprange, 1 + cliprange))
    clipped_values = old_values + (values - old_values).clamp(-cliprange_value, cliprange_value)
    vf = 0.5 * torch.max((values - returns) ** 2, (clipped_values - returns) ** 2)
    clipfrac = masked_mean(((ratio - 1).abs() > cliprange).float(), mask)
    return masked_mean(pg, mask), masked_mean(vf, mask), clipfrac.detach()


def train_ppo(
    config: PPOConfig,
    data: Sequence[PromptRow] | str | Path,
    output_dir: str | Path,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
) -> TrainResult:
    """Optimise ``config.base_model`` against ``config.reward_model`` on the prompts in ``data``."""
    on_progress, should_stop = resolve_callbacks(on_progress, should_stop)
    output_dir = Path(output_dir)
    rows = [r for r in as_rows(data, PromptRow) if r.split != "eval"]
    accelerator = make_accelerator(config)
    device = accelerator.device
    tokenizer = load_tokenizer(config.base_model)
    prompt_budget = max(8, config.max_length - config.max_new_tokens)
    prompts = [encode_prompt(tokenizer, r.prompt, prompt_budget) for r in rows]
    per_iteration = config.batch_size * accelerator.num_processes
    total_steps = config.max_steps or config.epochs * math.ceil(len(rows) / per_iteration)
    reporter = Reporter(accelerator, on_progress, total_steps, math.ceil(len(rows) / per_iteration))
    reporter.emit(0, {}, "setup", f"{len(rows)} prompts, reward model {config.reward_model}")

    score = make_scorer(
        config.reward_model,
        None,
        {},
        device,
        config.max_length,
        frozen_dtype(accelerator),
        policy_tokenizer=tokenizer,
    )
    ref = AutoModelForCausalLM.from_pretrained(config.base_model, dtype=frozen_dtype(accelerator))
    ref = disable_dropout(ref).to(device)
    ref.eval().requires_grad_(False)
    model = PolicyWithValue(
        disable_dropout(
            AutoModelForCausalLM.from_pretrained(config.base_model, dtype=torch.float32)
        ),
        config.temperature,
    )
    minibatches = math.ceil(config.batch_size / config.mini_batch_size)
    optimizer, scheduler = make_optimizer(
        model.parameters(), config, total_steps * config.ppo_epochs * minibatches
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    rng = random.Random(config.seed + accelerator.process_index)
    order: list[int] = []
    cancelled = False
    step = 0
    metrics: dict[str, float] = {}

    while step < total_steps:
        # --- rollout: sample, score, compute rewards and advantages (no grad) ---
        if len(order) < config.batch_size:
            order += rng.sample(range(len(rows)), len(rows))
        picked, order = order[: config.batch_size], order[config.batch_size :]
        model.eval()
        policy = accelerator.unwrap_model(model)
        with accelerator.autocast():
            roll = sample(
                policy.lm,
                tokenizer,
                [prompts[i] for i in picked],
                config.max_new_tokens,
                config.temperature,
            )
        with torch.no_grad(), accelerator.autocast():
            raw_scores = score([rows[i] for i in picked], roll)
            scores = missing_eos_penalty(raw_scores, roll.finished, config.missing_eos_penalty)
            old, old_values = model(roll.input_ids, roll.attention_mask, roll.completion_mask)
            ref_logps = completion_logprobs(
                ref,
                roll.input_ids,
                roll.attention_mask,
                roll.completion_mask,
                temperature=config.temperature,
            ).logps
        w = roll.window()
        mask, old_logps, old_values = old.mask[:, w], old.logps[:, w], old_values[:, w]
        kl = (old_logps - ref_logps[:, w]) * mask
        rewards = -config.kl_coef * kl
        last = (mask.sum(-1).long() - 1).clamp(min=0)
        rewards[torch.arange(len(picked), device=device), last] += scores
        advantages, returns = gae(rewards, old_values, mask, config.gamma, config.lam)
        if config.whiten_advantages:
            advantages = whiten(advantages, mask)

        # --- optimisation: ppo_epochs passes over minibatches ---
        model.train()
        stats: dict[str, list[float]] = {
            "loss/policy": [],
            "loss/value": [],
            "clipfrac": [],
            "approx_kl": [],
            "ratio_dev": [],
        }
        for _ in range(config.ppo_epochs):
            perm = torch.randperm(
                len(picked), generator=torch.Generator().manual_seed(rng.randrange(2**31))
            )
            for start in range(0, len(picked), config.mini_batch_size):
                mb = perm[start : start + config.mini_batch_size].to(device)
                out, values = model(
                    roll.input_ids[mb], roll.attention_mask[mb], roll.completion_mask[mb]
                )
                m = mask[mb]
                pg, vf, clipfrac = ppo_losses(
                    out.logps[:, w],
                    old_logps[mb],
                    advantages[mb],
                    values[:, w],
                    old_values[mb],
                    returns[mb],
                    m,
                    config.cliprange,
                    config.cliprange_value,
                )
                accelerator.backward(pg + config.vf_coef * vf)
                if config.max_grad_norm:
                    accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                stats["loss/policy"].append(pg.item())
                stats["loss/value"].append(vf.item())
                stats["clipfrac"].append(clipfrac.item())
                log_ratio = out.logps[:, w].detach() - old_logps[mb]
                stats["approx_kl"].append(masked_mean(-log_ratio, m).item())
                stats["ratio_dev"].append(masked_mean((log_ratio.exp() - 1).abs(), m).item())
        step += 1

        assert old.entropy is not None
        entropy = masked_mean(old.entropy[:, w], mask)
        metrics = {
            "reward/mean": scores.mean().item(),
            "reward/std": scores.std().item() if len(scores) > 1 else 0.0,
            "reward/raw": raw_scores.mean().item(),
            "kl": kl.sum(-1).mean().item(),
            "entropy": entropy.item(),
            "completion_length": mask.sum(-1).float().mean().item(),
            "finished": roll.finished.float().mean().item(),
            "learning_rate": float(scheduler.get_last_lr()[0]),
            **{k: sum(v) / len(v) for k, v in stats.items()},
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
