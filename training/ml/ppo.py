"""PPO against a learned reward model, with a per-token KL penalty to the reference policy.

    loss = E_t[max(-A_t rho_t, -A_t clip(rho_t, 1-eps, 1+eps))] + c_v E_t[max((V-R)^2, (V_clip-R)^2)] / 2
    with rho_t = pi(y_t)/pi_old(y_t),  r_t = -lambda_KL (log pi_old(y_t) - log pi_ref(y_t)) + [t = T] r_theta(x, y)

Papers: Schulman et al. 2017, "Proximal Policy Optimization Algorithms"; Ziegler et al. 2019,
"Fine-Tuning Language Models from Human Preferences"; Ouyang et al. 2022 (InstructGPT),
section 3.5 "Reinforcement learning (RL)".

Each iteration: sample one completion for each of ``batch_size`` prompts; score them with the
reward model (at the last token); per-token rewards are the KL penalty plus, on the last
token, that score; advantages by GAE (gamma, lam) from the value head; then ``ppo_epochs``
passes of clipped-surrogate + clipped value loss over minibatches. By default the value head is
a linear layer on the policy's own backbone (``critic="shared"``). The policy is saved as a
plain causal LM.

Reward scale and KL (issue 11; every option off by default, so a default run is unchanged):

- ``reward_norm="running"`` whitens each reward-model score with the running mean and std of
  every score seen so far, this batch included (TRL's ``RunningMoments``;
  ``training.ml.kl.RunningMoments``), so the KL coefficient means the same whatever the reward
  model's scale. ``reward_norm="reference"`` instead measures the mean and std once, on one
  reference-policy completion for each of ``reward_norm_samples`` prompts before training,
  and shifts and scales every score by them, so the reference policy's mean reward is 0 and
  its std 1: the gain and bias of lm-human-preferences (Ziegler et al. 2019, measured there on
  samples of the initial policy too); InstructGPT (Ouyang et al. 2022, section 3.5) uses only
  a bias, measured on labeler demonstrations. Normalisation comes before
  ``missing_eos_penalty``, so the penalty is in normalised units. Logged:
  ``train/reward/mean_raw`` (before normalisation), ``train/reward/norm_mean``,
  ``train/reward/norm_std``; ``train/reward/mean`` is then the normalised mean.
- ``target_kl`` turns on the adaptive KL controller of Ziegler et al. 2019 (section 2.2;
  ``training.ml.kl.AdaptiveKLController``): after each rollout of n samples (batch_size x
  processes) with mean KL ``KL`` (nats per completion, ``train/kl``),
  ``kl_coef <- kl_coef * (1 + clip((KL - target_kl) / target_kl, -0.2, 0.2) * n / kl_horizon)``;
  ``kl_coef`` is the starting value. ``train/kl_coef`` logs the coefficient each step's rewards
  used (constant when ``target_kl`` is None).
- ``critic="reward_model"`` trains a separate value model, as InstructGPT ("we initialize the
  value function from the RM", Ouyang et al. 2022, section 3.5) and OpenRLHF do: the reward
  model's backbone and a scalar head copied from its score head (``Critic``), trained by the
  value loss only, in its own optimizer param group (``critic_learning_rate``). It reads the
  policy's token ids, so the reward model must share the policy's tokenizer. Memory: a second
  trainable model, i.e. its weights, gradients and AdamW moments (about 16 bytes a parameter
  in float32, 1.1 GB more for a 70M-parameter reward model) and its activations, beside the
  frozen reward model the scorer already holds; the shared head costs one linear layer.

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
from typing import Any

import torch
from torch import nn
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

from training.ml.adapters import load_trainable, reference_model, save_trained
from training.ml.batches import encode_prompt
from training.ml.config import ConfigError, PPOConfig
from training.ml.data import PromptRow, as_rows
from training.ml.kl import RunningMoments, kl_controller
from training.ml.logprobs import LogProbs, completion_logprobs, position_ids
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
    stop_requested,
)
from training.ml.verifiers import Scorer, make_scorer, reward_options, scorer_metrics


class Critic(nn.Module):
    """A separate value model: a reward model's backbone and a scalar head initialised from its
    score head (InstructGPT initialises the value function from the reward model)."""

    def __init__(self, reward_model: nn.Module):
        super().__init__()
        self.backbone: nn.Module = reward_model.base_model  # type: ignore[assignment]
        hidden = reward_model.config.get_text_config().hidden_size  # type: ignore[operator, union-attr]
        self.head = nn.Linear(hidden, 1)
        score = getattr(reward_model, "score", None)
        with torch.no_grad():
            if isinstance(score, nn.Linear) and score.weight.shape == (1, hidden):
                self.head.weight.copy_(score.weight)
                self.head.bias.copy_(score.bias if score.bias is not None else torch.zeros(1))
            else:  # an architecture whose head is not one linear layer: start at 0
                nn.init.zeros_(self.head.weight)
                nn.init.zeros_(self.head.bias)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, completion_mask: torch.Tensor
    ) -> torch.Tensor:
        """(batch, seq-1) values laid out as ``completion_logprobs``' log-probs, 0 elsewhere."""
        hidden = self.backbone(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids(attention_mask),
            use_cache=False,
        ).last_hidden_state[:, :-1]
        mask = completion_mask[:, 1:].bool() & attention_mask[:, 1:].bool()
        v = self.head(hidden[mask].to(self.head.weight.dtype)).squeeze(-1).float()
        return torch.zeros(mask.shape, device=v.device).masked_scatter(mask, v)


def load_critic(config: PPOConfig, policy_tokenizer: Any) -> Critic:
    """The separate critic of ``config.critic == "reward_model"``: it reads the policy's token
    ids, so the reward model must share the policy's tokenizer."""
    rm_tokenizer = load_tokenizer(config.reward_model)
    if rm_tokenizer.get_vocab() != policy_tokenizer.get_vocab():
        raise ConfigError(
            'critic "reward_model" needs a reward model with the policy\'s tokenizer; '
            f"{config.reward_model!r} has another"
        )
    rm = AutoModelForSequenceClassification.from_pretrained(
        config.reward_model, dtype=torch.float32
    )
    return Critic(disable_dropout(rm))


class PolicyWithValue(nn.Module):
    """A causal LM and its values: a scalar value head on the LM's last hidden states (shared
    trunk), or a separate ``critic``."""

    def __init__(self, lm: nn.Module, temperature: float = 1.0, critic: Critic | None = None):
        super().__init__()
        self.lm = lm
        self.temperature = temperature
        self.critic = critic
        if critic is None:
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
            return_hidden=self.critic is None,
        )
        if self.critic is not None:
            return out, self.critic(input_ids, attention_mask, completion_mask)
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


def _optimizer(
    model: PolicyWithValue, config: PPOConfig, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW and its schedule; a separate critic gets its own param group (learning rate
    ``critic_learning_rate``) under the same warmup and decay."""
    if model.critic is None:
        return make_optimizer(model.parameters(), config, total_steps)
    optimizer, scheduler = make_optimizer(model.lm.parameters(), config, total_steps)
    optimizer.add_param_group(
        {
            "params": [p for p in model.critic.parameters() if p.requires_grad],
            "lr": config.critic_learning_rate or config.learning_rate,
        }
    )
    # a schedule over both groups: the factor is the same, each group keeps its own peak lr
    optimizer.param_groups[0]["lr"] = optimizer.param_groups[0]["initial_lr"]
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, scheduler.lr_lambdas[0])


def reference_reward_moments(
    ref: Any,
    tokenizer: Any,
    prompts: Sequence[Sequence[int]],
    rows: Sequence[PromptRow],
    score: Scorer,
    config: PPOConfig,
    accelerator: Any,
) -> RunningMoments:
    """Mean and std of the reward-model score of one reference-policy completion for each of
    ``reward_norm_samples`` prompts (shuffled, cycled if there are fewer; split across
    processes), for ``reward_norm="reference"``."""
    rng = random.Random(config.seed + 1 + accelerator.process_index)
    order = rng.sample(range(len(rows)), len(rows))
    count = math.ceil(config.reward_norm_samples / accelerator.num_processes)
    picked = [order[i % len(order)] for i in range(count)]
    moments = RunningMoments()
    for start in range(0, count, config.batch_size):
        chunk = picked[start : start + config.batch_size]
        with torch.no_grad(), accelerator.autocast():
            roll = sample(
                ref,
                tokenizer,
                [prompts[i] for i in chunk],
                config.max_new_tokens,
                config.temperature,
            )
            raw = score([rows[i] for i in chunk], roll)
        moments.update(accelerator.gather(raw.float()).tolist())
    return moments


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
        **reward_options(config),
    )
    lm = load_trainable(AutoModelForCausalLM, config, accelerator)
    ref = reference_model(config, lm, accelerator)  # LoRA: lm with its adapters off
    model = PolicyWithValue(
        lm,
        config.temperature,
        load_critic(config, tokenizer) if config.critic == "reward_model" else None,
    )
    minibatches = math.ceil(config.batch_size / config.mini_batch_size)
    optimizer, scheduler = _optimizer(model, config, total_steps * config.ppo_epochs * minibatches)
    kl_ctl = kl_controller(config.kl_coef, config.target_kl, config.kl_horizon)
    reward_moments = RunningMoments()
    if config.reward_norm == "reference":
        reward_moments = reference_reward_moments(
            ref, tokenizer, prompts, rows, score, config, accelerator
        )
        reporter.emit(
            0,
            {},
            "setup",
            f"reference reward mean {reward_moments.mean:.4g}, std {reward_moments.std:.4g} "
            f"over {reward_moments.count} samples",
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
            scores = raw_scores
            if config.reward_norm == "running":
                reward_moments.update(accelerator.gather(raw_scores.float()).tolist())
            if config.reward_norm is not None:
                scores = (raw_scores - reward_moments.mean) / (reward_moments.std + 1e-8)
            scores = missing_eos_penalty(scores, roll.finished, config.missing_eos_penalty)
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
        kl_coef = kl_ctl.value
        rewards = -kl_coef * kl
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
            **scorer_metrics(score),
            "kl": kl.sum(-1).mean().item(),
            "entropy": entropy.item(),
            "completion_length": mask.sum(-1).float().mean().item(),
            "finished": roll.finished.float().mean().item(),
            "learning_rate": float(scheduler.get_last_lr()[0]),
            **{k: sum(v) / len(v) for k, v in stats.items()},
        }
        if config.reward_norm is not None:
            metrics["reward/mean_raw"] = raw_scores.mean().item()
        metrics = mean_across(accelerator, metrics)
        # the coefficient these rewards used; then the controller steps on this batch's mean KL
        metrics["kl_coef"] = kl_coef
        if config.reward_norm is not None:
            metrics["reward/norm_mean"] = reward_moments.mean
            metrics["reward/norm_std"] = reward_moments.std
        kl_ctl.update(metrics["kl"], per_iteration)
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
