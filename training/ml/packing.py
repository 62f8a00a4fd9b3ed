"""Padding-free packing: a micro-batch's sequences laid end to end in a few rows, with
``position_ids`` restarting per sequence and an attention mask that keeps them apart.

    row = [prompt | chosen | rejected | prompt' | chosen' | rejected' | ...]   (no padding inside)
    token q may attend to token k  <=>  k <= q, same prompt unit, and k is in the prompt or in q's own completion

The completions compared for one prompt (a pair's chosen and rejected, a ranking's K) share
one truncated prompt (``batches.encode_shared``), so with an explicit mask (SDPA or eager
attention) the prompt is run once and each completion attends to it and to itself only, with
its positions continuing from the prompt's: every token sees exactly the keys and positions it
sees in its own padded row, so log-probs and rewards are those of the padded forward (to float
rounding), while neither padding nor the repeated prompt costs compute. With flash attention
(CUDA) the mask cannot be written down; there each sequence is its own segment (the prompt
repeated), positions restart at 0, and ``attention_mask=None`` lets transformers derive the
segments from ``position_ids`` and call the varlen kernel (``cu_seqlens``).

References: Krell et al. 2021, "Efficient Sequence Packing without Cross-contamination"
(arXiv:2107.02027); Wang et al. 2024, "Accelerating Direct Preference Optimization with Prefix
Sharing" (arXiv:2410.20305); Hugging Face's ``DataCollatorWithFlattening`` and TRL's
``padding_free`` (position_ids + flash-attention varlen).

Rows are filled first-fit-decreasing up to ``capacity`` tokens (a longer prompt unit gets a row
of its own). On CPU the attention cost grows with the square of the row length, so rows stay
short; see ``Packing.capacity``.

Example::

    >>> packing = packing_for(model)                     # None: pad (encoders, sliding window)
    >>> batch = collate_pairs(pairs, pad_id, packing)    # training.ml.batches  # doctest: +SKIP
    >>> chosen, rejected = pair_rewards(model, batch)    # training.ml.reward_model   # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from training.ml.logprobs import DEFAULT_CHUNK, chunked_token_logprobs, completion_logprobs

# Attention implementations that take an explicit (rows, 1, T, T) mask.
MASKED = ("sdpa", "eager")
# Attention implementations whose varlen kernel reads the segments from position_ids.
VARLEN = ("flash_attention_2", "flash_attention_3")
# Keys of a packed batch (``pack_sequences``); a padded batch has ``attention_mask`` instead.
PACKED_KEY = "position_ids"


class Sequenced(Protocol):
    """What is packed: a sequence split into its prompt and completion (``batches.Encoded``)."""

    @property
    def prompt_ids(self) -> list[int]: ...

    @property
    def completion_ids(self) -> list[int]: ...


@dataclass(frozen=True)
class Packing:
    """How a model's micro-batches are packed."""

    # One prompt per unit of completions, with an explicit block mask (SDPA/eager); False: every
    # sequence its own segment, for flash-attention varlen.
    share_prompt: bool
    # Tokens per row at least (a longer unit gets a row of its own). Attention over a row costs
    # its length squared, so on CPU (dense masked SDPA) rows hold a few sequences; with varlen
    # kernels the cost is per segment, so one long row is best.
    capacity: int
    # "sdpa" / "eager": the mask is built from the segment ids; "flash_*": no mask at all.
    attention: str


def packing_for(model: nn.Module, capacity: int = 0) -> Packing | None:
    """The packing a model can take, or None (keep padding): causal decoders with full
    attention in every layer, through SDPA, eager or flash attention. Encoders attend both
    ways and pool [CLS], and sliding-window layers would see a different window: both pad."""
    inner = getattr(model, "module", model)
    config: Any = inner.config
    attention = getattr(config, "_attn_implementation", None) or "eager"
    text = config.get_text_config()
    layers = getattr(text, "layer_types", None)
    sliding = (
        any(t != "full_attention" for t in layers)
        if layers
        else bool(
            getattr(text, "sliding_window", None) and getattr(text, "use_sliding_window", True)
        )
    )
    if config.is_encoder_decoder or not _decoder_only(config) or sliding:
        return None
    if type(inner).__name__.endswith("ForSequenceClassification") and not _has_score(inner):
        return None
    if attention in MASKED:
        return Packing(share_prompt=True, capacity=capacity, attention=attention)
    if attention in VARLEN:
        return Packing(share_prompt=False, capacity=max(capacity, 8192), attention=attention)
    return None


def _decoder_only(config: Any) -> bool:
    """A causal LM architecture that is not also a masked LM (BERT can be run as a decoder)."""
    from transformers.models.auto import modeling_auto as auto

    kind = config.model_type
    return (
        kind in auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
        and kind not in auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES
    )


def _has_score(model: nn.Module) -> bool:
    try:
        _score_head(model)
    except ValueError:
        return False
    return True


def pack_sequences(
    seqs: Sequence[Sequenced], pad_id: int, packing: Packing
) -> dict[str, torch.Tensor]:
    """Pack the distinct sequences ``seqs`` (sequence u = ``seqs[u]``) into rows.

    Returns (R rows of T tokens; flat indices count ``row * T + column``):
    ``input_ids``, ``position_ids`` (R, T); ``unit_ids`` (R, T) the prompt unit of each token,
    -1 on the row's end padding; ``branch_ids`` (R, T) 0 on prompt tokens, k on the unit's k-th
    completion; ``last_index`` (U,) flat index of each sequence's last token (where a reward is
    read); ``target_index``, ``source_index``, ``target_seq`` (N,) for each scored completion
    token: where it is, the position whose hidden state predicts it (the previous token of its
    own sequence) and which sequence it belongs to. A completion's first token is scored when
    the prompt is not empty, as in the padded batch.
    """
    units: dict[Any, tuple[list[int], list[int]]] = {}
    for u, seq in enumerate(seqs):
        key = tuple(seq.prompt_ids) if packing.share_prompt else u
        units.setdefault(key, (list(seq.prompt_ids), []))[1].append(u)

    def size(unit: tuple[list[int], list[int]]) -> int:
        return len(unit[0]) + sum(len(seqs[u].completion_ids) for u in unit[1])

    order = sorted(units.values(), key=size, reverse=True)
    capacity = max([packing.capacity] + [size(unit) for unit in order])
    rows: list[list[tuple[list[int], list[int]]]] = []
    room: list[int] = []
    for unit in order:  # first fit, longest first
        fit = next((r for r, free in enumerate(room) if free >= size(unit)), None)
        if fit is None:
            rows.append([])
            room.append(capacity)
            fit = len(rows) - 1
        rows[fit].append(unit)
        room[fit] -= size(unit)
    width = max(capacity - free for free in room)
    # One segment per prompt and per completion, in row order; token tensors are then built
    # from the segments with a few vectorised ops (no Python loop per token).
    ids: list[int] = []
    # (flat index of its first token, length, position id of its first token, unit, branch)
    segments: list[tuple[int, int, int, int, int]] = []
    # per completion segment: its sequence, the flat index of its prompt's last token, and
    # whether that prompt is empty (then its first token is not scored)
    owner: list[int] = []
    prompt_end: list[int] = []
    no_prompt: list[bool] = []
    last = [0] * len(seqs)
    unit_no = 0
    for r, row in enumerate(rows):
        at = r * width
        for prompt, members in row:
            p = len(prompt)
            ids += prompt
            segments.append((at, p, 0, unit_no, 0))
            end = at + p - 1
            at += p
            for k, u in enumerate(members, start=1):
                completion = seqs[u].completion_ids
                c = len(completion)
                if p + c == 0:
                    raise ValueError(f"sequence {u} is empty")
                ids += completion
                segments.append((at, c, p, unit_no, k))
                owner.append(u)
                prompt_end.append(end)
                no_prompt.append(p == 0)
                last[u] = at + c - 1 if c else end
                at += c
            unit_no += 1
    starts, lengths, first_pos, seg_unit, seg_branch = torch.tensor(
        segments, dtype=torch.long
    ).unbind(1)
    flat = _segment_index(starts, lengths)
    offset = flat - torch.repeat_interleave(starts, lengths)
    shape = (len(rows), width)
    input_ids = torch.full(shape, pad_id, dtype=torch.long)
    position_ids = torch.zeros(shape, dtype=torch.long)
    unit_ids = torch.full(shape, -1, dtype=torch.long)
    branch_ids = torch.zeros(shape, dtype=torch.long)
    input_ids.view(-1)[flat] = torch.tensor(ids, dtype=torch.long)
    position_ids.view(-1)[flat] = offset + torch.repeat_interleave(first_pos, lengths)
    unit_ids.view(-1)[flat] = torch.repeat_interleave(seg_unit, lengths)
    branch_ids.view(-1)[flat] = torch.repeat_interleave(seg_branch, lengths)
    # scored tokens: every completion token, predicted from the token before it in its own
    # sequence (the prompt's last token for the first), except a first token with no prompt
    is_completion = seg_branch > 0
    c_start = starts[is_completion]
    c_len = lengths[is_completion]
    target = _segment_index(c_start, c_len)
    first = target == torch.repeat_interleave(c_start, c_len)
    source = torch.where(
        first,
        torch.repeat_interleave(torch.tensor(prompt_end, dtype=torch.long), c_len),
        target - 1,
    )
    keep = ~(first & torch.repeat_interleave(torch.tensor(no_prompt, dtype=torch.bool), c_len))
    return {
        "input_ids": input_ids,
        "position_ids": position_ids,
        "unit_ids": unit_ids,
        "branch_ids": branch_ids,
        "last_index": torch.tensor(last, dtype=torch.long),
        "target_index": target[keep],
        "source_index": source[keep],
        "target_seq": torch.repeat_interleave(torch.tensor(owner, dtype=torch.long), c_len)[keep],
    }


def _segment_index(starts: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Flat indices of the tokens of consecutive segments: starts[i] + 0..lengths[i]-1."""
    total = int(lengths.sum())
    before = torch.cumsum(lengths, 0) - lengths  # tokens in the earlier segments
    return torch.arange(total) + torch.repeat_interleave(
        starts - before, lengths, output_size=total
    )


def is_packed(batch: dict[str, torch.Tensor]) -> bool:
    return PACKED_KEY in batch


def block_mask(unit_ids: torch.Tensor, branch_ids: torch.Tensor) -> torch.Tensor:
    """(R, 1, T, T) boolean mask, True where query q may attend to key k: causal, within one
    prompt unit, and k in the prompt or in q's own completion. End padding attends to itself
    only (no all-masked row, so no NaN)."""
    width = unit_ids.size(1)
    index = torch.arange(width, device=unit_ids.device)
    mask = unit_ids.unsqueeze(2) == unit_ids.unsqueeze(1)  # same unit (in place from here)
    key_branch = branch_ids.unsqueeze(1)
    mask &= (key_branch == 0) | (key_branch == branch_ids.unsqueeze(2))
    mask &= index.view(1, -1) <= index.view(-1, 1)  # causal
    mask &= (unit_ids >= 0).unsqueeze(1)
    mask |= torch.eye(width, dtype=torch.bool, device=unit_ids.device)
    return mask.unsqueeze(1)


def attention_kwargs(model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
    """``input_ids``, ``position_ids`` and ``attention_mask`` for a packed forward: the block
    mask (boolean for SDPA, additive for eager), or None for flash attention (varlen from
    ``position_ids``; only valid for ``share_prompt=False`` packing)."""
    config = getattr(model, "module", model).config
    attention = getattr(config, "_attn_implementation", None) or "eager"
    mask: torch.Tensor | None = None
    if attention not in VARLEN:
        mask = block_mask(batch["unit_ids"], batch["branch_ids"])
        if attention != "sdpa":
            dtype = next(model.parameters()).dtype
            mask = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(
                ~mask, torch.finfo(dtype).min
            )
        elif mask.device.type == "cpu":
            # SDPA's CPU kernel turns a boolean mask into this additive one (0 / -inf) in
            # every layer, forward and backward; made once here, the result is the same bits
            mask = torch.where(mask, 0.0, -math.inf)
    return {
        "input_ids": batch["input_ids"],
        "position_ids": batch["position_ids"],
        "attention_mask": mask,
    }


def _score_head(model: nn.Module) -> nn.Module:
    inner = getattr(model, "module", model)  # DDP / Accelerate wrappers
    head = getattr(inner, "score", None)
    if isinstance(head, nn.Module):  # the usual case, without walking every module per step
        return head
    for name, module in model.named_modules():
        if name == "score" or name.endswith(".score"):
            return module
    raise ValueError(f"{type(model).__name__} has no `score` head: cannot pack its batches")


def packed_rewards(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """(U,) reward of every sequence of a packed batch, read at its last token.

    The call goes through ``model`` itself (so DDP/FSDP wrappers see a forward) and the
    per-token scores are taken from its ``score`` head with a forward hook: a sequence
    classifier's own pooling (last non-pad token of each row) knows nothing of segments."""
    captured: list[torch.Tensor] = []
    hook = _score_head(model).register_forward_hook(lambda m, i, out: captured.append(out))
    try:
        model(**attention_kwargs(model, batch), use_cache=False)
    finally:
        hook.remove()
    return captured[-1].reshape(-1)[batch["last_index"]].float()


def packed_logps(
    lm: Any, batch: dict[str, torch.Tensor], chunk_size: int = DEFAULT_CHUNK
) -> torch.Tensor:
    """(U,) summed completion log-probs of every sequence of a packed batch under causal LM
    ``lm`` (LM head over the scored positions only, in chunks: ``logprobs.chunked_token_logprobs``)."""
    hidden = lm.base_model(**attention_kwargs(lm, batch), use_cache=False).last_hidden_state
    head = lm.get_output_embeddings()
    config = lm.config.get_text_config()
    flat = hidden.reshape(-1, hidden.size(-1))
    token_logps, _ = chunked_token_logprobs(
        flat[batch["source_index"]].to(head.weight.dtype),
        head,
        batch["input_ids"].reshape(-1)[batch["target_index"]],
        chunk_size,
        1.0,
        getattr(config, "final_logit_softcapping", None),
        getattr(config, "logit_scale", None) or 1.0,
    )
    sums = torch.zeros(batch["last_index"].numel(), dtype=torch.float32, device=flat.device)
    return sums.index_add(0, batch["target_seq"], token_logps.float())


class SequenceLogProbs(nn.Module):
    """Summed completion log-prob of each distinct sequence of a collated batch, packed or
    padded (``batches.collate_pairs``): the DPO policy. An ``nn.Module``, so Accelerate/DDP
    wrap the call; the HF model stays reachable as ``.lm``."""

    def __init__(self, lm: nn.Module, chunk_size: int = DEFAULT_CHUNK):
        super().__init__()
        self.lm = lm
        self.chunk_size = chunk_size
        # Accelerate's FSDP TRANSFORMER_BASED_WRAP shards the classes named here one by one
        # (each decoder layer gathered only for its own forward/backward), not the whole model.
        self._no_split_modules = getattr(lm, "_no_split_modules", None)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if is_packed(batch):
            return packed_logps(self.lm, batch, self.chunk_size)
        out = completion_logprobs(
            self.lm,
            batch["input_ids"],
            batch["attention_mask"],
            batch["completion_mask"],
            self.chunk_size,
        )
        return out.logps.sum(-1)
