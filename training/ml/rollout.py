"""Sampling completions for on-policy training (PPO, GRPO) and generation benchmarks.

Prompts are left-padded and sampled with ``generate`` (plain ancestral sampling at a
temperature: no top-k/top-p, so the log-probs we score match the distribution sampled from).
A completion ends at its first EOS (kept, so the model learns to stop); later tokens are
padding. The result is laid out like a training batch: ``input_ids`` (prompt left-padded,
completion right-padded), ``attention_mask`` and ``completion_mask``.

Example::

    >>> r = sample(lm, tokenizer, [encode_prompt(tok, msgs, 64)], max_new_tokens=16)  # doctest: +SKIP
    >>> r.texts                                                                      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from training.ml.batches import pad_left


@dataclass
class Rollout:
    input_ids: torch.Tensor  # (batch, prompt_len + new) prompt then completion
    attention_mask: torch.Tensor  # 1 on real prompt and completion tokens
    completion_mask: torch.Tensor  # 1 on completion tokens (EOS included)
    prompt_len: int  # width of the left-padded prompt block
    texts: list[str]  # decoded completions, special tokens removed
    finished: torch.Tensor  # (batch,) bool: the completion ended with EOS

    def window(self) -> slice:
        """Positions of the shifted (batch, seq-1) tensors that score completion tokens."""
        return slice(self.prompt_len - 1, None)


@torch.no_grad()
def sample(
    lm: Any,
    tokenizer: Any,
    prompts: Sequence[Sequence[int]],
    max_new_tokens: int,
    temperature: float = 1.0,
) -> Rollout:
    """Sample one completion per prompt (token ids) from causal LM ``lm``."""
    device = next(lm.parameters()).device
    pad_id, eos_id = tokenizer.pad_token_id, tokenizer.eos_token_id
    prompt_ids = pad_left(prompts, pad_id).to(device)
    prompt_mask = pad_left([[1] * len(p) for p in prompts], 0).to(device)
    out = lm.generate(
        input_ids=prompt_ids,
        attention_mask=prompt_mask,
        do_sample=True,
        temperature=temperature,
        top_k=0,
        top_p=1.0,
        max_new_tokens=max_new_tokens,
        pad_token_id=pad_id,
        eos_token_id=eos_id,
    )
    new = out[:, prompt_ids.size(1) :]
    is_eos = new == eos_id if eos_id is not None else torch.zeros_like(new, dtype=torch.bool)
    # Keep tokens up to and including the first EOS.
    before_eos = (is_eos.long().cumsum(-1) - is_eos.long()) == 0
    completion = before_eos.long()
    new = new.masked_fill(~before_eos, pad_id)
    texts = tokenizer.batch_decode(new, skip_special_tokens=True)
    return Rollout(
        input_ids=torch.cat([prompt_ids, new], dim=1),
        attention_mask=torch.cat([prompt_mask, completion], dim=1),
        completion_mask=torch.cat([torch.zeros_like(prompt_mask), completion], dim=1),
        prompt_len=prompt_ids.size(1),
        texts=texts,
        finished=is_eos.any(-1),
    )


def masked_mean(values: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    if dim is None:
        return (values * mask).sum() / mask.sum().clamp(min=1)
    return (values * mask).sum(dim) / mask.sum(dim).clamp(min=1)
