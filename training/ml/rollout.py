"""Sampling completions for on-policy training (PPO, GRPO) and generation benchmarks.

Prompts are left-padded and sampled with ``generate`` (plain ancestral sampling at a
temperature, so the log-probs we score match the distribution sampled from).
A completion ends at its first EOS (kept, so the model learns to stop); later tokens are
padding. The result is laid out like a training batch: ``input_ids`` (prompt left-padded,
completion right-padded), ``attention_mask`` and ``completion_mask``.

Sampling uses a fresh ``GenerationConfig`` (``rollout_generation_config``) swapped in for the
call (issue 11): transformers otherwise fills every unset field from the checkpoint's own
``generation_config``, so a repetition penalty, a top-k, ``no_repeat_ngram_size`` or
``min_new_tokens`` shipped with a model changed the samples while PPO's ratio and KL scored
them under the plain policy. ``sample(..., return_logps=True)`` also returns the log-probs
the sampler drew each token with, which equal ``logprobs.completion_logprobs`` at the same
temperature (tested). ``missing_eos_penalty`` lowers the reward of completions cut at
``max_new_tokens`` (lm-human-preferences, Ziegler et al. 2019; TRL).

Example::

    >>> r = sample(lm, tokenizer, [encode_prompt(tok, msgs, 64)], max_new_tokens=16)  # doctest: +SKIP
    >>> r.texts                                                                      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import GenerationConfig

from training.ml.batches import pad_left


@dataclass
class Rollout:
    input_ids: torch.Tensor  # (batch, prompt_len + new) prompt then completion
    attention_mask: torch.Tensor  # 1 on real prompt and completion tokens
    completion_mask: torch.Tensor  # 1 on completion tokens (EOS included)
    prompt_len: int  # width of the left-padded prompt block
    texts: list[str]  # decoded completions, special tokens removed
    finished: torch.Tensor  # (batch,) bool: the completion ended with EOS
    # (batch, new) log-probs the sampler drew each completion token with (0 after the end);
    # only with ``sample(..., return_logps=True)``.
    sampler_logps: torch.Tensor | None = None

    def window(self) -> slice:
        """Positions of the shifted (batch, seq-1) tensors that score completion tokens."""
        return slice(self.prompt_len - 1, None)


def rollout_generation_config(
    max_new_tokens: int, temperature: float, pad_id: int | None, eos_id: int | None
) -> GenerationConfig:
    """Plain ancestral sampling at ``temperature`` and nothing else: every logits processor
    that would change the distribution (top-k/top-p, repetition penalties, no-repeat n-grams,
    minimum lengths, suppressed or forced tokens) is explicitly off."""
    return GenerationConfig(
        do_sample=True,
        temperature=temperature,
        top_k=0,
        top_p=1.0,
        min_p=None,
        typical_p=1.0,
        epsilon_cutoff=0.0,
        eta_cutoff=0.0,
        repetition_penalty=1.0,
        encoder_repetition_penalty=1.0,
        no_repeat_ngram_size=0,
        encoder_no_repeat_ngram_size=0,
        bad_words_ids=None,
        sequence_bias=None,
        suppress_tokens=None,
        begin_suppress_tokens=None,
        forced_bos_token_id=None,
        forced_eos_token_id=None,
        exponential_decay_length_penalty=None,
        min_length=0,
        min_new_tokens=None,
        renormalize_logits=False,
        num_beams=1,
        num_return_sequences=1,
        max_new_tokens=max_new_tokens,
        pad_token_id=pad_id,
        eos_token_id=eos_id,
    )


@torch.no_grad()
def sample(
    lm: Any,
    tokenizer: Any,
    prompts: Sequence[Sequence[int]],
    max_new_tokens: int,
    temperature: float = 1.0,
    return_logps: bool = False,
) -> Rollout:
    """Sample one completion per prompt (token ids) from causal LM ``lm``."""
    device = next(lm.parameters()).device
    pad_id, eos_id = tokenizer.pad_token_id, tokenizer.eos_token_id
    prompt_ids = pad_left(prompts, pad_id).to(device)
    prompt_mask = pad_left([[1] * len(p) for p in prompts], 0).to(device)
    config = rollout_generation_config(max_new_tokens, temperature, pad_id, eos_id)
    config.output_scores = return_logps
    config.return_dict_in_generate = True
    # transformers fills every field we leave unset from ``lm.generation_config`` (a
    # checkpoint's repetition_penalty, top_k, min_new_tokens, ...): swap ours in for the call.
    saved, lm.generation_config = lm.generation_config, config
    try:
        out = lm.generate(
            input_ids=prompt_ids, attention_mask=prompt_mask, generation_config=config
        )
    finally:
        lm.generation_config = saved
    new = out.sequences[:, prompt_ids.size(1) :]
    is_eos = new == eos_id if eos_id is not None else torch.zeros_like(new, dtype=torch.bool)
    # Keep tokens up to and including the first EOS.
    before_eos = (is_eos.long().cumsum(-1) - is_eos.long()) == 0
    completion = before_eos.long()
    new = new.masked_fill(~before_eos, pad_id)
    texts = tokenizer.batch_decode(new, skip_special_tokens=True)
    sampler_logps = None
    if return_logps:
        steps = torch.stack(out.scores, dim=1).float().log_softmax(-1)
        sampler_logps = steps.gather(-1, new.unsqueeze(-1)).squeeze(-1) * completion
    return Rollout(
        input_ids=torch.cat([prompt_ids, new], dim=1),
        attention_mask=torch.cat([prompt_mask, completion], dim=1),
        completion_mask=torch.cat([torch.zeros_like(prompt_mask), completion], dim=1),
        prompt_len=prompt_ids.size(1),
        texts=texts,
        finished=is_eos.any(-1),
        sampler_logps=sampler_logps,
    )


def masked_mean(values: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    if dim is None:
        return (values * mask).sum() / mask.sum().clamp(min=1)
    return (values * mask).sum(dim) / mask.sum(dim).clamp(min=1)


def missing_eos_penalty(
    scores: torch.Tensor, finished: torch.Tensor, penalty: float | None
) -> torch.Tensor:
    """``scores`` less ``penalty`` for every completion that did not end with EOS (cut at
    max_new_tokens), as lm-human-preferences and TRL's ``missing_eos_penalty``; None: unchanged."""
    if penalty is None:
        return scores
    return scores - penalty * (~finished.to(scores.device)).to(scores.dtype)
