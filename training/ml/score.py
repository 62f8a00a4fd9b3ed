"""Scoring (prompt, completion) pairs with a trained reward model: one scalar per pair.

The pairs are encoded exactly as the reward trainer encodes them (``batches.encode``, the
chat template or the HH format, EOS appended), sorted by length and run in batches.

Example::

    >>> score_local("/runs/7", [([{"role": "user", "content": "hi"}], "hello")])  # doctest: +SKIP
    [0.31]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from training.ml.data import Message


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

    from training.ml.batches import collate_sequences, encode
    from training.ml.reward import load_reward_backbone
    from training.ml.runtime import load_tokenizer

    tokenizer = load_tokenizer(model_path)
    model = load_reward_backbone(model_path, tokenizer).eval()
    encoded = [encode(tokenizer, list(m), c, max_length) for m, c in pairs]
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    scores = [0.0] * len(encoded)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = collate_sequences([encoded[i] for i in chunk], tokenizer.pad_token_id)
            logits = model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).logits
            for i, value in zip(chunk, logits.squeeze(-1).float().tolist(), strict=True):
                scores[i] = float(value)
            if on_batch is not None:
                on_batch(min(start + batch_size, len(order)), len(order))
    return scores
