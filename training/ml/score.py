"""Scoring (prompt, completion) pairs with a trained reward model: one scalar per pair.

The pairs are encoded exactly as the reward trainer encodes them (the chat template or the HH
format, EOS appended), sorted by length and run in batches. Completions of one conversation
share one truncation of its prompt (``batches.encode_by_prompt``, issue 11), so completions
compared for a prompt are scored on the same context, as the trainer's pairs are.

A causal reward model reads its score at the last real token of each (right-padded) row:
``last_token_rewards`` (issue 11). Hugging Face's ``*ForSequenceClassification`` looks for the
last token that differs from ``pad_token_id``, so when the tokenizer pads with EOS it read the
token *before* a final EOS, and a completion that stopped looked like one cut short. PPO and
GRPO score their rollouts through the same helper (``verifiers.RewardModelScorer``), on the
token ids that were generated.

Example::

    >>> score_local("/runs/7", [([{"role": "user", "content": "hi"}], "hello")])  # doctest: +SKIP
    [0.31]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from training.ml.data import Message

if TYPE_CHECKING:
    import torch


def last_token_rewards(
    model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """(batch,) scores of a sequence classifier on right-padded rows, read at each row's last
    real token (``attention_mask``), whatever ``pad_token_id`` is (EOS included).

    The padding is refilled with an id that no row ends with and the model is told that id
    is padding, so its own last-non-pad lookup lands on the last real token; encoders, which
    pool [CLS], are unaffected (padding is masked out of attention either way). The reward
    trainer reads its scores here too, so training and scoring read the same position; a
    model wrapped for data parallelism (``.module``) keeps its config on the wrapped module.
    """
    last = input_ids.gather(1, (attention_mask.sum(-1, keepdim=True) - 1).clamp(min=0))
    ends = set(last.view(-1).tolist())
    fill = next(i for i in range(len(ends) + 1) if i not in ends)
    ids = input_ids.masked_fill(attention_mask == 0, fill)
    config = getattr(model, "module", model).config
    saved = config.pad_token_id
    config.pad_token_id = fill
    try:
        logits = model(input_ids=ids, attention_mask=attention_mask).logits
    finally:
        config.pad_token_id = saved
    return logits.squeeze(-1).float()


def score_local(
    model_path: str,
    pairs: Sequence[tuple[Sequence[Message], str]],
    batch_size: int = 16,
    max_length: int = 512,
    on_batch: Callable[[int, int], None] | None = None,
) -> list[float]:
    """The reward of every (conversation, completion), in the order given; ``on_batch(done,
    total)`` after every batch."""
    import torch

    from training.ml.batches import collate_sequences, encode_by_prompt
    from training.ml.reward import load_reward_backbone
    from training.ml.runtime import load_tokenizer

    tokenizer = load_tokenizer(model_path)
    model = load_reward_backbone(model_path, tokenizer).eval()
    encoded = encode_by_prompt(tokenizer, pairs, max_length)
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    scores = [0.0] * len(encoded)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = collate_sequences([encoded[i] for i in chunk], tokenizer.pad_token_id)
            rewards = last_token_rewards(model, batch["input_ids"], batch["attention_mask"])
            for i, value in zip(chunk, rewards.tolist(), strict=True):
                scores[i] = float(value)
            if on_batch is not None:
                on_batch(min(start + batch_size, len(order)), len(order))
    return scores
