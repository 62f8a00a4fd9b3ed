"""Rewards for on-policy training (PPO, GRPO): a trained reward model, or a verifier rule
chosen by name (reward.py, by contrast, trains reward models).

A rule is ``f(completion, row, **args) -> float`` registered in ``RULES``; GRPO picks one with
``reward_rule`` and passes ``reward_rule_args``. A reward model is a finished reward run
directory, loaded with ``AutoModelForSequenceClassification`` and its own tokenizer.

Verifiable rewards (issue 11; RLVR as in DeepSeekMath, Shao et al. 2024, and Tülu 3, Lambert
et al. 2024). ``exact_answer`` used to be substring containment (for answer 42, "142" scored
1.0); the rules now are:

- ``exact_answer``: the answer appears whole: not inside a longer word or number ("142",
  "-42", "42.5" and "x42y" do not contain the answer 42; "it is 42." does).
- ``final_answer``: the completion's final answer (``extract_final_answer``: the last
  ``\\boxed{...}``, braces nested, else the last ``#### ...`` line, else the last number)
  equals the row's answer: as numbers within ``tolerance`` when both parse
  (``parse_number``: "42.0" = "42", "1/2" = "0.5", "1,234" = "1234"), else as text (case and
  surrounding space ignored). As in the GSM8K and MATH graders: only the final answer counts.
- ``answer_format``: the answer is given in the expected format ("boxed": a non-empty
  ``\\boxed{}`` with balanced braces; "hashes": a last line ``#### <answer>``, GSM8K style),
  whatever its value: the format reward of DeepSeek-R1 (DeepSeek-AI 2025), a control of how
  much of a run's gain is formatting.
- ``random``: a reward that ignores the completion: 1 with probability ``probability``
  (default 0.5), else 0, or with ``distribution`` "uniform" a uniform draw in [0, 1), from a
  generator seeded with ``seed`` (GRPO sets the run's seed when none is given). The control of
  Shao et al. 2025 ("Spurious Rewards: Rethinking Training Signals in RLVR"): Qwen2.5-Math
  gains on MATH-500 even with random rewards, so a run's gain means something only beside a
  random-reward run with the same seed, data and budget (the run page's "start a random-reward
  control"). Each bound rule (``make_rule``) owns its generator, so draws are a seeded stream
  independent of the text: no completion can learn to earn them.

PPO and GRPO score their rollouts with ``make_scorer(...)(rows, rollout)``. A reward model
whose tokenizer is the policy's reads the exact token ids that were generated (a completion
cut at max_new_tokens has no EOS; one that stopped ends with it); with another tokenizer the
text is re-encoded and EOS appended only to completions that stopped. Either way the score is
read at the last real token (``score.last_token_rewards``), so when the tokenizer pads with
EOS a finished completion and a truncated one no longer look alike (issue 11).

Example::

    >>> make_rule("regex", {"pattern": r"\\bhappy\\b"})("so happy", PromptRow(prompt=[]))
    1.0
    >>> make_rule("exact_answer", {})("it is 42.", PromptRow(prompt=[], answer="42"))
    1.0
    >>> make_rule("exact_answer", {})("it is 142.", PromptRow(prompt=[], answer="42"))
    0.0
    >>> make_rule("final_answer", {})("so \\boxed{0.5}", PromptRow(prompt=[], answer="1/2"))
    1.0
"""

from __future__ import annotations

import inspect
import math
import random as _random
import re
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch

from training.ml.batches import collate_sequences, encode, to_device
from training.ml.config import ConfigError
from training.ml.data import PromptRow
from training.ml.rollout import Rollout
from training.ml.score import RewardReader

RULES: dict[str, Callable[..., float]] = {}


def rule(name: str) -> Callable[[Callable[..., float]], Callable[..., float]]:
    def register(fn: Callable[..., float]) -> Callable[..., float]:
        RULES[name] = fn
        return fn

    return register


@rule("exact_answer")
def exact_answer(completion: str, row: PromptRow, case_sensitive: bool = False) -> float:
    """1 if the row's ``answer`` appears whole in the completion (not inside a longer word or
    number, not signed), else 0."""
    answer = (row.answer or "").strip()
    if not answer:
        return 0.0
    pattern = r"(?<![\w.\-+])" + re.escape(answer) + r"(?!\w|[.,]\d)"
    return float(re.search(pattern, completion, 0 if case_sensitive else re.IGNORECASE) is not None)


_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+(?:\.\d+)?)?")
_HASHES = re.compile(r"^####(?!#)[ \t]*(\S.*?)\s*$", re.MULTILINE)


def _boxed(text: str) -> list[str | None]:
    """The contents of every ``\\boxed{...}`` (braces nested), None for an unclosed one."""
    found: list[str | None] = []
    for match in re.finditer(r"\\boxed\s*\{", text):
        depth, start = 1, match.end()
        for i in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                found.append(text[start:i])
                break
        else:
            found.append(None)
    return found


def extract_final_answer(text: str) -> str | None:
    """The last ``\\boxed{...}``, else the last ``#### ...`` line, else the last number."""
    boxed = _boxed(text)
    if boxed:
        return boxed[-1].strip() if boxed[-1] is not None else None
    hashes = _HASHES.findall(text)
    if hashes:
        return str(hashes[-1]).strip()
    numbers = _NUMBER.findall(text)
    return numbers[-1] if numbers else None


def parse_number(text: str) -> float | None:
    """A plain number ("42", "-4.5", "1,234", "1/2", "{42}", "$42") as a float, else None."""
    text = text.strip().strip("{}$ ").rstrip(".")
    text = re.sub(r"^\\frac\{(\d+)\}\{(\d+)\}$", r"\1/\2", text)
    if not re.fullmatch(_NUMBER, text):
        return None
    try:
        value = Fraction(text.replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return None
    return float(value)


def answers_match(given: str, expected: str, tolerance: float = 1e-6) -> bool:
    """Numerically equal within ``tolerance`` (relative, and absolute near 0) when both parse
    as numbers, else equal as text (case, surrounding space and a final period ignored)."""
    a, b = parse_number(given), parse_number(expected)
    if a is not None and b is not None:
        return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)

    def norm(s: str) -> str:
        return " ".join(s.strip().strip("{}").rstrip(".").lower().split())

    return norm(given) == norm(expected)


@rule("final_answer")
def final_answer(completion: str, row: PromptRow, tolerance: float = 1e-6) -> float:
    """1 if the completion's final answer (``extract_final_answer``) matches the row's
    ``answer`` (``answers_match``), else 0."""
    if not row.answer:
        return 0.0
    given = extract_final_answer(completion)
    return float(given is not None and answers_match(given, row.answer, tolerance))


ANSWER_FORMATS = ("boxed", "hashes")


@rule("answer_format")
def answer_format(completion: str, row: PromptRow, format: str = "boxed") -> float:
    """1 if the completion gives an answer in ``format`` ("boxed": a non-empty, closed
    ``\\boxed{}``; "hashes": its last non-empty line is ``#### <answer>``), else 0."""
    if format == "boxed":
        return float(any(b is not None and b.strip() for b in _boxed(completion)))
    lines = [line for line in completion.splitlines() if line.strip()]
    return float(bool(lines) and _HASHES.fullmatch(lines[-1].strip()) is not None)


@rule("regex")
def regex(completion: str, row: PromptRow, pattern: str, ignore_case: bool = False) -> float:
    """1 if ``pattern`` matches somewhere in the completion, else 0."""
    return float(re.search(pattern, completion, re.IGNORECASE if ignore_case else 0) is not None)


@rule("max_length")
def max_length(completion: str, row: PromptRow, max_chars: int) -> float:
    """1 up to ``max_chars`` characters, then decaying as max_chars / length."""
    return 1.0 if len(completion) <= max_chars else max_chars / len(completion)


RANDOM_DISTRIBUTIONS = ("bernoulli", "uniform")


@rule("random")
def random_reward(
    completion: str,
    row: PromptRow,
    probability: float = 0.5,
    distribution: str = "bernoulli",
    seed: int = 0,
    *,
    rng: _random.Random | None = None,
) -> float:
    """A draw that ignores ``completion``: 1.0 with ``probability`` else 0.0 ("bernoulli"), or
    uniform in [0, 1) ("uniform"), from ``rng`` (``make_rule`` binds one seeded with ``seed``;
    without one, a fresh generator seeded with ``seed`` gives its first draw)."""
    rng = rng or _random.Random(seed)
    draw = rng.random()
    return draw if distribution == "uniform" else float(draw < probability)


def make_rule(name: str, args: dict[str, Any]) -> Callable[[str, PromptRow], float]:
    """The rule ``name`` with ``args`` bound; a ConfigError names a bad rule or argument."""
    if name not in RULES:
        raise ConfigError(f"reward_rule {name!r} is not one of {', '.join(sorted(RULES))}")
    fn = RULES[name]
    params = [
        p
        for p in list(inspect.signature(fn).parameters.values())[2:]
        if p.kind is not inspect.Parameter.KEYWORD_ONLY  # bound here, not by the user
    ]
    allowed = {p.name for p in params}
    unknown = set(args) - allowed
    missing = {p.name for p in params if p.default is inspect.Parameter.empty} - set(args)
    if unknown or missing:
        raise ConfigError(
            f"reward_rule_args for {name!r}: unknown {sorted(unknown)}, missing {sorted(missing)};"
            f" accepted: {sorted(allowed)}"
        )
    if name == "answer_format" and args.get("format", "boxed") not in ANSWER_FORMATS:
        raise ConfigError(
            f"reward_rule_args.format: {args['format']!r} is not one of {', '.join(ANSWER_FORMATS)}"
        )
    if name == "regex":
        try:
            re.compile(args["pattern"])
        except re.error as exc:
            raise ConfigError(f"reward_rule_args.pattern: invalid regex: {exc}") from exc

    if name == "random":
        if args.get("distribution", "bernoulli") not in RANDOM_DISTRIBUTIONS:
            raise ConfigError(
                f"reward_rule_args.distribution: {args['distribution']!r} is not one of "
                f"{', '.join(RANDOM_DISTRIBUTIONS)}"
            )
        probability = args.get("probability", 0.5)
        if not isinstance(probability, int | float) or not 0 <= probability <= 1:
            raise ConfigError("reward_rule_args.probability: must be a number in [0, 1]")
        if not isinstance(args.get("seed", 0), int):
            raise ConfigError("reward_rule_args.seed: must be an integer")
        args = {**args, "rng": _random.Random(args.get("seed", 0))}

    def bound(completion: str, row: PromptRow) -> float:
        return float(fn(completion, row, **args))

    return bound


Scorer = Callable[[Sequence[PromptRow], Rollout], torch.Tensor]


class RewardModelScorer:
    """Scores rollouts with a reward model from a finished reward run: the generated token ids
    when the reward model's tokenizer is the policy's, else the re-encoded text. The run is
    read as its ``reward_head.json`` says (``score.RewardReader``: an ensemble's combined
    score, a DPL model's mu, an ODIN model's quality head, a conditioned model's mean over
    groups, or its ``group``'s); ``last_uncertainty`` keeps the last batch's uncertainty (None
    without one). With ``aggregate`` "maxmin" or "welfare" the run's latent cluster models are
    combined instead (``training.ml.welfare.ClusterReader``); ``last_metrics`` then holds each
    cluster's batch mean reward."""

    def __init__(
        self,
        run_dir: str | Path,
        device: torch.device,
        max_length: int = 512,
        dtype: torch.dtype = torch.float32,
        policy_tokenizer: Any = None,
        group: str | None = None,
        aggregate: str = "pooled",
        weights: dict[str, float] | None = None,
    ):
        from training.ml.welfare import ClusterReader

        self.reader: RewardReader | ClusterReader = (
            RewardReader(run_dir, device=device, dtype=dtype, group=group)
            if aggregate == "pooled"
            else ClusterReader(run_dir, aggregate, weights or {}, device=device, dtype=dtype)
        )
        self.tokenizer = self.reader.tokenizer
        self.last_uncertainty: torch.Tensor | None = None
        self.device = device
        self.max_length = max_length
        self.same_tokens = policy_tokenizer is not None and (
            policy_tokenizer.get_vocab() == self.tokenizer.get_vocab()
            and getattr(policy_tokenizer, "chat_template", None)
            == getattr(self.tokenizer, "chat_template", None)
        )

    def _token_batch(self, roll: Rollout) -> dict[str, torch.Tensor]:
        """The rollout's real tokens, right-padded, keeping the last ``max_length``."""
        rows = [
            ids[mask.bool()][-self.max_length :]
            for ids, mask in zip(roll.input_ids, roll.attention_mask, strict=True)
        ]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)], mask[i, : len(r)] = r, 1
        return to_device({"input_ids": ids, "attention_mask": mask}, self.device)

    def _text_batch(self, rows: Sequence[PromptRow], roll: Rollout) -> dict[str, torch.Tensor]:
        items = [
            encode(self.tokenizer, r.prompt, text, self.max_length, add_eos=bool(done))
            for r, text, done in zip(rows, roll.texts, roll.finished.tolist(), strict=True)
        ]
        return to_device(collate_sequences(items, self.tokenizer.pad_token_id), self.device)

    @torch.no_grad()
    def __call__(self, rows: Sequence[PromptRow], roll: Rollout) -> torch.Tensor:
        batch = self._token_batch(roll) if self.same_tokens else self._text_batch(rows, roll)
        scores, self.last_uncertainty = self.reader(batch["input_ids"], batch["attention_mask"])
        return scores

    @property
    def last_metrics(self) -> dict[str, float]:
        """The last batch's per-cluster mean rewards ({} unless the clusters are combined)."""
        return getattr(self.reader, "last_metrics", {})


def make_scorer(
    reward_model: str | None,
    reward_rule: str | None,
    rule_args: dict[str, Any],
    device: torch.device,
    max_length: int,
    dtype: torch.dtype = torch.float32,
    policy_tokenizer: Any = None,
    group: str | None = None,
    aggregate: str = "pooled",
    weights: dict[str, float] | None = None,
) -> Scorer:
    """One callable for either kind of reward: (rows, rollout) -> rewards tensor.
    ``policy_tokenizer`` lets a reward model that shares it read the generated token ids;
    ``group``, ``aggregate`` and ``weights`` are the config's reward_group, reward_aggregate
    and welfare_weights (``RewardModelScorer``)."""
    if reward_model is not None:
        if not (Path(reward_model) / "config.json").exists():
            raise ConfigError(
                f"reward_model {reward_model!r} is not a finished reward run directory"
            )
        return RewardModelScorer(
            reward_model, device, max_length, dtype, policy_tokenizer, group, aggregate, weights
        )
    assert reward_rule is not None
    fn = make_rule(reward_rule, rule_args)

    def score(rows: Sequence[PromptRow], roll: Rollout) -> torch.Tensor:
        values = [fn(c, r) for r, c in zip(rows, roll.texts, strict=True)]
        return torch.tensor(values, dtype=torch.float32, device=device)

    return score


def reward_options(config: Any) -> dict[str, Any]:
    """A PPO/GRPO config's reward_group, reward_aggregate and welfare_weights, as
    ``make_scorer``'s keyword arguments."""
    return {
        "group": config.reward_group,
        "aggregate": config.reward_aggregate,
        "weights": dict(config.welfare_weights),
    }


def scorer_metrics(score: Scorer) -> dict[str, float]:
    """The last batch's per-cluster mean rewards of a scorer that combines latent clusters."""
    return dict(getattr(score, "last_metrics", {}))
