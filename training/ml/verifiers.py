"""Rewards for on-policy training (PPO, GRPO): a trained reward model, or a verifier rule
chosen by name (reward.py, by contrast, trains reward models).

A rule is ``f(completion, row, **args) -> float`` registered in ``RULES``; GRPO picks one with
``reward_rule`` and passes ``reward_rule_args``. A reward model is a finished reward run
directory, loaded with ``AutoModelForSequenceClassification`` and its own tokenizer (it may
differ from the policy's: completions are scored as text).

Example::

    >>> make_rule("regex", {"pattern": r"\\bhappy\\b"})("so happy", PromptRow(prompt=[]))
    1.0
    >>> make_rule("exact_answer", {})("it is 42.", PromptRow(prompt=[], answer="42"))
    1.0
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForSequenceClassification

from training.ml.batches import collate_sequences, encode, to_device
from training.ml.config import ConfigError
from training.ml.data import PromptRow
from training.ml.runtime import load_tokenizer

RULES: dict[str, Callable[..., float]] = {}


def rule(name: str) -> Callable[[Callable[..., float]], Callable[..., float]]:
    def register(fn: Callable[..., float]) -> Callable[..., float]:
        RULES[name] = fn
        return fn

    return register


@rule("exact_answer")
def exact_answer(completion: str, row: PromptRow, case_sensitive: bool = False) -> float:
    """1 if the row's ``answer`` appears in the completion, else 0."""
    if not row.answer:
        return 0.0
    if case_sensitive:
        return float(row.answer.strip() in completion)
    return float(row.answer.strip().lower() in completion.lower())


@rule("regex")
def regex(completion: str, row: PromptRow, pattern: str, ignore_case: bool = False) -> float:
    """1 if ``pattern`` matches somewhere in the completion, else 0."""
    return float(re.search(pattern, completion, re.IGNORECASE if ignore_case else 0) is not None)


@rule("max_length")
def max_length(completion: str, row: PromptRow, max_chars: int) -> float:
    """1 up to ``max_chars`` characters, then decaying as max_chars / length."""
    return 1.0 if len(completion) <= max_chars else max_chars / len(completion)


def make_rule(name: str, args: dict[str, Any]) -> Callable[[str, PromptRow], float]:
    """The rule ``name`` with ``args`` bound; a ConfigError names a bad rule or argument."""
    if name not in RULES:
        raise ConfigError(f"reward_rule {name!r} is not one of {', '.join(sorted(RULES))}")
    fn = RULES[name]
    params = list(inspect.signature(fn).parameters.values())[2:]
    allowed = {p.name for p in params}
    unknown = set(args) - allowed
    missing = {p.name for p in params if p.default is inspect.Parameter.empty} - set(args)
    if unknown or missing:
        raise ConfigError(
            f"reward_rule_args for {name!r}: unknown {sorted(unknown)}, missing {sorted(missing)};"
            f" accepted: {sorted(allowed)}"
        )
    if name == "regex":
        try:
            re.compile(args["pattern"])
        except re.error as exc:
            raise ConfigError(f"reward_rule_args.pattern: invalid regex: {exc}") from exc

    def bound(completion: str, row: PromptRow) -> float:
        return float(fn(completion, row, **args))

    return bound


class RewardModelScorer:
    """Scores (prompt, completion) text with a reward model from a finished reward run."""

    def __init__(
        self,
        run_dir: str | Path,
        device: torch.device,
        max_length: int = 512,
        dtype: torch.dtype = torch.float32,
    ):
        self.tokenizer = load_tokenizer(str(run_dir))
        model = AutoModelForSequenceClassification.from_pretrained(str(run_dir), dtype=dtype)
        self.model = model.to(device)
        self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.model.eval().requires_grad_(False)
        self.device = device
        self.max_length = max_length

    @torch.no_grad()
    def __call__(self, rows: Sequence[PromptRow], completions: Sequence[str]) -> torch.Tensor:
        items = [
            encode(self.tokenizer, r.prompt, c, self.max_length)
            for r, c in zip(rows, completions, strict=True)
        ]
        batch = to_device(collate_sequences(items, self.tokenizer.pad_token_id), self.device)
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        return out.logits.squeeze(-1).float()


def make_scorer(
    reward_model: str | None,
    reward_rule: str | None,
    rule_args: dict[str, Any],
    device: torch.device,
    max_length: int,
    dtype: torch.dtype = torch.float32,
) -> Callable[[Sequence[PromptRow], Sequence[str]], torch.Tensor]:
    """One callable for either kind of reward: (rows, completions) -> rewards tensor."""
    if reward_model is not None:
        if not (Path(reward_model) / "config.json").exists():
            raise ConfigError(
                f"reward_model {reward_model!r} is not a finished reward run directory"
            )
        return RewardModelScorer(reward_model, device, max_length, dtype)
    assert reward_rule is not None
    fn = make_rule(reward_rule, rule_args)

    def score(rows: Sequence[PromptRow], completions: Sequence[str]) -> torch.Tensor:
        values = [fn(c, r) for r, c in zip(rows, completions, strict=True)]
        return torch.tensor(values, dtype=torch.float32, device=device)

    return score
