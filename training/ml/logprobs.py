"""Log-probabilities of completion tokens, without full-vocabulary logits for the whole batch.

    log p(y_t | y_<t) = log_softmax(W h_{t-1} / T)[y_t],   for completion tokens y_t only

The backbone runs once to give hidden states; only the completion positions are gathered, and
the LM head + log-softmax run over chunks of them. Each chunk is checkpointed, so its
``chunk x vocab`` logits are freed after the forward and recomputed one chunk at a time in the
backward: peak memory is one chunk of logits instead of ``batch x seq x vocab``. Used by DPO,
SFT, PPO and GRPO.

Example::

    >>> lm = AutoModelForCausalLM.from_pretrained(path)                     # doctest: +SKIP
    >>> out = completion_logprobs(lm, batch["input_ids"], batch["attention_mask"],
    ...                           batch["completion_mask"])                 # doctest: +SKIP
    >>> out.logps.sum(-1)   # sequence log-prob of each completion          # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

DEFAULT_CHUNK = 1024


@dataclass
class LogProbs:
    """Per-token results over shifted positions: index t scores token t+1 of ``input_ids``."""

    # (batch, seq-1) log-probs, 0 outside the completion.
    logps: torch.Tensor
    # (batch, seq-1) float mask of completion tokens.
    mask: torch.Tensor
    # (batch, seq-1) entropy of the next-token distribution (no grad), if asked for.
    entropy: torch.Tensor | None = None
    # (n_completion_tokens, hidden) hidden states at the scored positions, if asked for.
    hidden: torch.Tensor | None = None


def _head_chunk(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    labels: torch.Tensor,
    temperature: float,
    softcap: float | None,
    scale: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    logits = F.linear(hidden, weight, bias).float()
    if scale != 1.0:
        logits = logits * scale
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    logp = torch.log_softmax(logits / temperature, dim=-1)
    with torch.no_grad():
        entropy = -(logp.exp() * logp).sum(-1)
    return logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1), entropy


def chunked_token_logprobs(
    hidden: torch.Tensor,
    head: nn.Module,
    labels: torch.Tensor,
    chunk_size: int = DEFAULT_CHUNK,
    temperature: float = 1.0,
    softcap: float | None = None,
    scale: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(log-probs, entropies) of ``labels`` (n,) given ``hidden`` (n, H), ``chunk_size`` rows at a time."""
    weight: torch.Tensor = head.weight  # type: ignore[assignment]
    bias: torch.Tensor | None = getattr(head, "bias", None)
    logps, entropies = [], []
    for start in range(0, hidden.size(0), chunk_size):
        h, y = hidden[start : start + chunk_size], labels[start : start + chunk_size]
        if torch.is_grad_enabled():
            lp, ent = checkpoint(
                _head_chunk, h, weight, bias, y, temperature, softcap, scale, use_reentrant=False
            )
        else:
            lp, ent = _head_chunk(h, weight, bias, y, temperature, softcap, scale)
        logps.append(lp)
        entropies.append(ent)
    if not logps:  # no completion token at all: keep the graph connected
        zero = hidden.sum(-1) * 0
        return zero.float(), zero.detach().float()
    return torch.cat(logps), torch.cat(entropies)


def position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions counted over real tokens, so left- and right-padded rows agree (as in generate)."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def backbone_hidden(lm: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Last hidden states of a causal LM's backbone (everything but the LM head)."""
    out = lm.base_model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids(attention_mask),
        use_cache=False,
    )
    return out.last_hidden_state


def completion_logprobs(
    lm: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    completion_mask: torch.Tensor,
    chunk_size: int = DEFAULT_CHUNK,
    temperature: float = 1.0,
    return_hidden: bool = False,
) -> LogProbs:
    """Per-token log-probs of the completion tokens of ``input_ids`` under causal LM ``lm``."""
    hidden = backbone_hidden(lm, input_ids, attention_mask)[:, :-1]
    labels = input_ids[:, 1:]
    mask = completion_mask[:, 1:].bool() & attention_mask[:, 1:].bool()
    head = lm.get_output_embeddings()
    config = lm.config.get_text_config()
    selected = hidden[mask].to(head.weight.dtype)
    token_logps, token_entropy = chunked_token_logprobs(
        selected,
        head,
        labels[mask],
        chunk_size,
        temperature,
        getattr(config, "final_logit_softcapping", None),
        getattr(config, "logit_scale", None) or 1.0,
    )
    zeros = torch.zeros(mask.shape, dtype=torch.float32, device=input_ids.device)
    return LogProbs(
        logps=zeros.masked_scatter(mask, token_logps),
        mask=mask.float(),
        entropy=zeros.masked_scatter(mask, token_entropy),
        hidden=selected if return_hidden else None,
    )


class CompletionLogProbs(nn.Module):
    """``nn.Module`` wrapper, so Accelerate/DDP wrap the call (gradients then sync across
    processes) while the HF model stays reachable as ``.lm`` for ``save_pretrained``/``generate``."""

    def __init__(self, lm: nn.Module, chunk_size: int = DEFAULT_CHUNK, temperature: float = 1.0):
        super().__init__()
        self.lm = lm
        self.chunk_size = chunk_size
        self.temperature = temperature
        # Accelerate's FSDP TRANSFORMER_BASED_WRAP shards these classes (decoder layers) one by one.
        self._no_split_modules = getattr(lm, "_no_split_modules", None)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        completion_mask: torch.Tensor,
    ) -> LogProbs:
        return completion_logprobs(
            self.lm,
            input_ids,
            attention_mask,
            completion_mask,
            self.chunk_size,
            self.temperature,
        )
