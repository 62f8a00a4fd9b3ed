"""Tokenisation with prompt masking, length-grouped batching and collators.

A sequence is ``prefix + prompt + completion (+ EOS) + suffix``: prefix/suffix are the
tokenizer's own special tokens ([CLS]/[SEP] for BERT, BOS for Llama, none for GPT-2), the
prompt is formatted by ``data.format_example`` (chat template or HH style). Only completion
tokens are trained on: collators return a ``completion_mask`` that is 1 on them.

Too long a sequence loses its oldest prompt tokens first; a completion keeps at least half of
``max_length``. The completions compared for one prompt (a pair's chosen and rejected, a
ranking's K) are truncated together (``encode_shared``): the prompt is cut once, from the left,
leaving room for the longest of them, so they all condition on the same context. (Issue 11:
truncating each completion's prompt by its own length gave chosen and rejected different
contexts in 41 % of HH-RLHF pairs at max_length 128, a median 17 tokens apart.) Batches group sequences of similar length so padding stays small, and
preference pairs of one prompt_id (one K-way ranking) share a batch, where each distinct
completion is run once (InstructGPT, section 3.5). With a ``packing.Packing`` (reward and DPO
on causal decoders, by default) ``collate_pairs`` lays a batch's sequences end to end without
padding, the prompt shared by its completions (``training.ml.packing``).

Example::

    >>> tok = build_tiny_tokenizer()                                       # doctest: +SKIP
    >>> enc = encode(tok, [{"role": "user", "content": "hi"}], "hello", max_length=64)
    >>> batch = collate_sequences([enc], pad_id=tok.pad_token_id)          # doctest: +SKIP
    >>> batch["completion_mask"]                                           # doctest: +SKIP
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from training.ml.data import Message, PreferenceRow, format_example
from training.ml.packing import Packing, pack_sequences


@dataclass(frozen=True)
class Encoded:
    """Token ids of one prompt + completion; ``completion_ids`` is what gets trained on."""

    prompt_ids: list[int]
    completion_ids: list[int]

    @property
    def ids(self) -> list[int]:
        return self.prompt_ids + self.completion_ids

    def __len__(self) -> int:
        return len(self.prompt_ids) + len(self.completion_ids)


@dataclass(frozen=True)
class EncodedPair:
    """A tokenised preference row; ``index`` is its position in the row list."""

    chosen: Encoded
    rejected: Encoded
    weight: float
    groups: tuple[str, ...]
    prompt_id: str
    index: int

    def __len__(self) -> int:
        return max(len(self.chosen), len(self.rejected))


def special_tokens(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after any text: ([CLS], [SEP]), ([BOS], []), ..."""
    plain = tokenizer("x", add_special_tokens=False)["input_ids"]
    full = tokenizer("x", add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start : start + len(plain)] == plain:
            return full[:start], full[start + len(plain) :]
    return [], []


def _tokens(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []


def _prefix(tokenizer: Any, prompt_text: str) -> tuple[list[int], list[int]]:
    prefix, suffix = special_tokens(tokenizer)
    # A chat template usually writes the BOS text itself: do not add it twice.
    if prefix and prompt_text.startswith(tokenizer.decode(prefix)):
        prefix = []
    return prefix, suffix


def encode(
    tokenizer: Any,
    messages: Sequence[Message],
    completion: str,
    max_length: int,
    add_eos: bool = True,
) -> Encoded:
    """Tokenise prompt and completion separately (so the prompt is an exact prefix).

    ``add_eos`` appends EOS to a completion the chat template did not close, teaching the
    model to stop (causal LMs); encoders get their suffix ([SEP]) instead.
    """
    return encode_shared(tokenizer, messages, [completion], max_length, add_eos)[0]


def encode_shared(
    tokenizer: Any,
    messages: Sequence[Message],
    completions: Sequence[str],
    max_length: int,
    add_eos: bool = True,
) -> list[Encoded]:
    """Several completions of one prompt, which all keep the *same* prompt tokens.

    The prompt is truncated once, from the left, leaving room for the longest completion (but
    at least half of ``max_length`` to the completions); each completion is then cut to what
    remains. Compared completions thus condition on one context (issue 11).
    """
    prompt_text = format_example(tokenizer, messages, None)[0]
    prefix, suffix = _prefix(tokenizer, prompt_text)
    prompt = _tokens(tokenizer, prompt_text)
    answers = []
    for completion in completions:
        _, completion_text, closed = format_example(tokenizer, messages, completion)
        answer = _tokens(tokenizer, completion_text)
        if add_eos and not closed and tokenizer.eos_token_id is not None and not suffix:
            answer.append(tokenizer.eos_token_id)
        answers.append(answer)
    budget = max_length - len(prefix) - len(suffix)
    longest = max((len(a) for a in answers), default=0)
    keep_prompt = min(len(prompt), max(budget // 2, budget - longest))
    prompt = prompt[len(prompt) - keep_prompt :]
    return [Encoded(prefix + prompt, answer[: budget - keep_prompt] + suffix) for answer in answers]


def encode_by_prompt(
    tokenizer: Any,
    items: Sequence[tuple[Sequence[Message], str]],
    max_length: int,
    add_eos: bool = True,
) -> list[Encoded]:
    """(conversation, completion) items, in order; completions of one conversation share one
    truncation of its prompt (``encode_shared``), as the reward trainer's pairs do."""
    units: dict[str, list[int]] = {}
    for i, (messages, _) in enumerate(items):
        units.setdefault(json.dumps(list(messages), sort_keys=True), []).append(i)
    out: list[Encoded | None] = [None] * len(items)
    for members in units.values():
        texts = list(dict.fromkeys(items[i][1] for i in members))
        encoded = encode_shared(tokenizer, items[members[0]][0], texts, max_length, add_eos)
        shared = dict(zip(texts, encoded, strict=True))
        for i in members:
            out[i] = shared[items[i][1]]
    return [e for e in out if e is not None]


def encode_prompt(tokenizer: Any, messages: Sequence[Message], max_length: int) -> list[int]:
    """Prompt ids for generation, keeping the most recent ``max_length`` tokens."""
    prompt_text, _, _ = format_example(tokenizer, messages, None)
    prefix, _ = _prefix(tokenizer, prompt_text)
    prompt = _tokens(tokenizer, prompt_text)
    return prefix + prompt[max(0, len(prompt) - (max_length - len(prefix))) :]


def encode_pairs(
    tokenizer: Any, rows: Sequence[PreferenceRow], max_length: int, add_eos: bool = True
) -> list[EncodedPair]:
    """Tokenised rows; rows of one prompt (same prompt_id and messages: a pair, or a ranking's
    pairs) share one truncation of the prompt (``encode_shared``)."""
    units: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        key = json.dumps([r.prompt_id, r.prompt], sort_keys=True)
        units.setdefault(key, []).append(i)
    encoded: dict[int, tuple[Encoded, Encoded]] = {}
    for members in units.values():
        texts = list(dict.fromkeys(t for i in members for t in (rows[i].chosen, rows[i].rejected)))
        shared = encode_shared(tokenizer, rows[members[0]].prompt, texts, max_length, add_eos)
        by_text = dict(zip(texts, shared, strict=True))
        for i in members:
            encoded[i] = (by_text[rows[i].chosen], by_text[rows[i].rejected])
    return [
        EncodedPair(
            chosen=encoded[i][0],
            rejected=encoded[i][1],
            weight=r.weight,
            groups=tuple(r.groups),
            prompt_id=r.prompt_id,
            index=i,
        )
        for i, r in enumerate(rows)
    ]


# --- batching ------------------------------------------------------------------------------


def length_grouped_batches(
    lengths: Sequence[int],
    batch_size: int,
    seed: int,
    keys: Sequence[str] | None = None,
    shuffle: bool = True,
    megabatch: int = 32,
) -> list[list[int]]:
    """Batches of indices with similar lengths.

    Items sharing a key (a prompt_id) form one unit and stay in one batch (a unit larger than
    ``batch_size`` is split). Units are shuffled, cut into megabatches of ``megabatch`` batches,
    sorted by length inside each, packed, and the batch order is shuffled again: padding stays
    small while the order stays random (like transformers' LengthGroupedSampler).
    """
    keys = keys if keys is not None else [str(i) for i in range(len(lengths))]
    units: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        units.setdefault(key, []).append(i)
    chunks = [
        members[j : j + batch_size]
        for members in units.values()
        for j in range(0, len(members), batch_size)
    ]
    rng = random.Random(seed)
    if shuffle:
        rng.shuffle(chunks)
    else:
        chunks.sort(key=lambda c: -max(lengths[i] for i in c))
    groups: list[list[list[int]]] = [[]]
    for chunk in chunks:
        if sum(len(c) for c in groups[-1]) >= megabatch * batch_size:
            groups.append([])
        groups[-1].append(chunk)
    batches: list[list[int]] = []
    for group in groups:
        group.sort(key=lambda c: -max(lengths[i] for i in c))
        current: list[int] = []
        for chunk in group:
            if current and len(current) + len(chunk) > batch_size:
                batches.append(current)
                current = []
            current = current + chunk
        if current:
            batches.append(current)
    if shuffle:
        rng.shuffle(batches)
    return batches


def shard(batches: list[list[int]], process_index: int, num_processes: int) -> list[list[int]]:
    """This process's share of the batches; every process gets the same count (DDP steps in
    lockstep), so up to ``num_processes - 1`` trailing batches are dropped."""
    usable = len(batches) - len(batches) % num_processes if num_processes > 1 else len(batches)
    return batches[process_index:usable:num_processes]


# --- collators -----------------------------------------------------------------------------


def pad_right(seqs: Sequence[Sequence[int]], value: int) -> torch.Tensor:
    width = max(len(s) for s in seqs)
    out = torch.full((len(seqs), width), value, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(list(s), dtype=torch.long)
    return out


def pad_left(seqs: Sequence[Sequence[int]], value: int) -> torch.Tensor:
    width = max(len(s) for s in seqs)
    out = torch.full((len(seqs), width), value, dtype=torch.long)
    for i, s in enumerate(seqs):
        if len(s):
            out[i, width - len(s) :] = torch.tensor(list(s), dtype=torch.long)
    return out


def collate_sequences(items: Sequence[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded ``input_ids``, ``attention_mask`` and ``completion_mask`` (1 on completion)."""
    return {
        "input_ids": pad_right([e.ids for e in items], pad_id),
        "attention_mask": pad_right([[1] * len(e) for e in items], 0),
        "completion_mask": pad_right(
            [[0] * len(e.prompt_ids) + [1] * len(e.completion_ids) for e in items], 0
        ),
    }


def collate_pairs(
    pairs: Sequence[EncodedPair], pad_id: int, packing: Packing | None = None
) -> dict[str, torch.Tensor]:
    """Each distinct sequence once, plus which rows are each pair's chosen and rejected.

    Returns the ``collate_sequences`` tensors over the U distinct sequences (or, with
    ``packing``, the ``packing.pack_sequences`` tensors: padding-free rows), and per pair
    ``chosen_index``, ``rejected_index`` (rows into those U), ``weights`` and ``pair_index``
    (position in the row list). A K-way ranking's C(K, 2) pairs thus cost K forward passes.
    """
    seen: dict[tuple[int, ...], int] = {}
    unique: list[Encoded] = []

    def slot(e: Encoded) -> int:
        key = tuple(e.ids) + (-1, len(e.prompt_ids))
        if key not in seen:
            seen[key] = len(unique)
            unique.append(e)
        return seen[key]

    chosen = [slot(p.chosen) for p in pairs]
    rejected = [slot(p.rejected) for p in pairs]
    sequences = (
        collate_sequences(unique, pad_id)
        if packing is None
        else pack_sequences(unique, pad_id, packing)
    )
    return {
        **sequences,
        "chosen_index": torch.tensor(chosen, dtype=torch.long),
        "rejected_index": torch.tensor(rejected, dtype=torch.long),
        "weights": torch.tensor([p.weight for p in pairs], dtype=torch.float32),
        "pair_index": torch.tensor([p.index for p in pairs], dtype=torch.long),
    }


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
