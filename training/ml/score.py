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

A reward run says how its models are read in ``reward_head.json`` (``RewardHead``; issue 15):
its method ("bt": the one output; "dpl": output 0 is mu, exp(output 1) the uncertainty sigma;
"odin": output 0, the quality head; "conditioned": the mean over the groups' rewards, each
group's token appended, ``training.ml.reward_conditioned``) and its ensemble members (their
scores combined by ``training.ml.ensemble.combine``, the members' std the uncertainty). A run
without the file is one Bradley-Terry model. ``RewardReader`` applies all of it, for the
scoring jobs (``score_local``) and for PPO/GRPO (``verifiers.RewardModelScorer``).

Example::

    >>> score_local("/runs/7", [([{"role": "user", "content": "hi"}], "hello")])  # doctest: +SKIP
    [0.31]
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.ml.data import Message

if TYPE_CHECKING:
    import torch

HEAD_FILE = "reward_head.json"


@dataclass(frozen=True)
class RewardHead:
    """How to read a reward run's models (``HEAD_FILE`` in its directory)."""

    # "bt", "conditioned", "dpl" or "odin" (RewardConfig.method).
    method: str = "bt"
    # Model directories relative to the run directory; more than one is an ensemble.
    members: list[str] = field(default_factory=lambda: [""])
    # training.ml.ensemble.combine's mode and lambda.
    ensemble_mode: str = "mean_std"
    ensemble_lambda: float = 1.0
    # "conditioned": group name -> the id of its token.
    group_tokens: dict[str, int] = field(default_factory=dict)
    # latent_groups K: the K cluster models' directories (clusters/NN), read by PPO/GRPO's
    # reward_aggregate "maxmin" / "welfare" (training.ml.welfare).
    clusters: list[str] = field(default_factory=list)


def write_head(run_dir: str | Path, head: RewardHead) -> None:
    (Path(run_dir) / HEAD_FILE).write_text(json.dumps(asdict(head), indent=2, sort_keys=True))


def read_head(run_dir: str | Path) -> RewardHead:
    """The run's ``RewardHead``; one Bradley-Terry model when it has no file."""
    path = Path(run_dir) / HEAD_FILE
    return RewardHead(**json.loads(path.read_text())) if path.is_file() else RewardHead()


def append_token(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, token_id: int, pad_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded rows with ``token_id`` put after each row's last real token."""
    import torch
    import torch.nn.functional as F

    ends = attention_mask.sum(-1)
    ids = F.pad(input_ids, (0, 1), value=pad_id)
    mask = F.pad(attention_mask, (0, 1), value=0)
    rows = torch.arange(ids.shape[0], device=ids.device)
    ids[rows, ends] = token_id
    mask[rows, ends] = 1
    return ids, mask


class RewardReader:
    """A reward run's models, read as its ``RewardHead`` says: ``(input_ids, attention_mask) ->
    (score, uncertainty or None)``, both (batch,). ``group`` conditions a "conditioned" model
    on one group instead of averaging over them."""

    def __init__(
        self,
        run_dir: str | Path,
        device: Any = "cpu",
        dtype: Any = None,
        group: str | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification

        from training.ml.runtime import load_tokenizer

        self.head = read_head(run_dir)
        self.tokenizer = load_tokenizer(str(run_dir))
        self.models = []
        for member in self.head.members:
            model = AutoModelForSequenceClassification.from_pretrained(
                str(Path(run_dir) / member), dtype=dtype or torch.float32
            )
            model.config.pad_token_id = self.tokenizer.pad_token_id
            self.models.append(model.to(device).eval().requires_grad_(False))
        tokens = self.head.group_tokens
        if group is not None and group not in tokens:
            raise ValueError(f"{run_dir}: no group {group!r} to condition on")
        self.tokens = [tokens[group]] if group is not None else list(tokens.values())

    def _member(
        self, model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        import torch

        if not self.tokens:
            outputs = last_token_rewards(model, input_ids, attention_mask)
        else:
            pad = self.tokenizer.pad_token_id
            outputs = torch.stack([
                last_token_rewards(model, *append_token(input_ids, attention_mask, t, pad))
                for t in self.tokens
            ]).mean(0)  # fmt: skip
        if outputs.dim() == 1:
            return outputs, None
        sigma = outputs[:, 1].clamp(-6, 6).exp() if self.head.method == "dpl" else None
        return outputs[:, 0], sigma

    def __call__(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        import torch

        from training.ml.ensemble import combine

        read = [self._member(m, input_ids, attention_mask) for m in self.models]
        if len(read) == 1:
            return read[0]
        scores = torch.stack([score for score, _ in read])
        return combine(scores, self.head.ensemble_mode, self.head.ensemble_lambda)


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
    """The reward of every (conversation, completion), in the order given."""
    scored = score_local_with_uncertainty(model_path, pairs, batch_size, max_length, on_batch)
    return [score for score, _ in scored]


def score_local_with_uncertainty(
    model_path: str,
    pairs: Sequence[tuple[Sequence[Message], str]],
    batch_size: int = 16,
    max_length: int = 512,
    on_batch: Callable[[int, int], None] | None = None,
) -> list[tuple[float, float | None]]:
    """(reward, uncertainty) of every (conversation, completion), in the order given (the
    uncertainty is None for a single model without one); ``on_batch(done, total)`` after every
    batch."""
    import torch

    from training.ml.batches import collate_sequences, encode_by_prompt

    reader = RewardReader(model_path)
    tokenizer = reader.tokenizer
    encoded = encode_by_prompt(tokenizer, pairs, max_length)
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    scores: list[tuple[float, float | None]] = [(0.0, None)] * len(encoded)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = collate_sequences([encoded[i] for i in chunk], tokenizer.pad_token_id)
            rewards, spread = reader(batch["input_ids"], batch["attention_mask"])
            spreads = [None] * len(chunk) if spread is None else spread.tolist()
            for i, value, u in zip(chunk, rewards.tolist(), spreads, strict=True):
                scores[i] = (float(value), None if u is None else float(u))
            if on_batch is not None:
                on_batch(min(start + batch_size, len(order)), len(order))
    return scores
