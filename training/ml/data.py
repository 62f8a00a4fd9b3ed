"""Training rows: dataclasses, JSONL loading with precise errors, train/eval split, group
balancing, chat formatting.

Standard library only (tokenizers are used duck-typed), so the web side can validate the rows
it writes without loading torch. Tokenisation, masking and collators live in ``batches.py``.

Row formats, one JSON object per line (what the Django side writes with each run's snapshot)::

    preference  {"prompt": [{"role": "user", "content": "Hi"}], "chosen": "Hello!",
                 "rejected": "Go away.", "weight": 1.0, "groups": ["experts"],
                 "prompt_id": "p1", "split": "train"}
    sft         {"prompt": [...messages], "completion": "Hello!", "split": "train"}
    prompt      {"prompt": [...messages], "prompt_id": "p1", "answer": "42"}   (PPO/GRPO)

A K-way ranking arrives already expanded to its C(K, 2) pairs, each with weight 1/C(K, 2) and
one shared prompt_id. Optional fields: weight (1.0), groups ([]), prompt_id (the line number),
split (null: decided by ``split_rows``), answer (null), item_id (null; the annotation item),
strength (null; preference rows: how
strongly chosen won, 0..1 from the 8-point scale, ``annotation.preferences.scale_strength``;
used by reward/DPO only with their ``strength`` option, see ``row_weights`` and
``row_margins``), labeler (null; the judging labeler's project pseudonym, for latent-group
discovery, ``training.ml.latent_groups``). Unknown fields are ignored.

Group balancing is done here, once, for every trainer with ``group_balance`` (reward, DPO):
``row_weights`` rescales the training rows' weights so that every labeler group carries the same
total. A row's weight is split evenly among its groups; rows of labelers in no group form one
more bucket, ``NO_GROUP``. Files hold the raw weights (the Django side never balances).

Weights must survive batching (issue 11): the trainers divide each batch's weighted loss sum by
one global constant, ``loss_denominator`` (mean training weight x batch size), never by the
batch's own weight sum. Length-grouped batches hold rows of similar weight (a group whose
responses are longer lands in its own batches; a ranking's pairs share a batch), so a per-batch
sum(w) cancelled the weights: with 90/10 groups the majority kept 64-90 % of the influence
instead of 50 %, and a K=4 ranking counted 1.8x a pairwise judgment. ``influence_shares``
reports each group's resulting share of the influence.

Example::

    >>> rows = parse_preference_lines(['{"prompt": [{"role": "user", "content": "2+2?"}],'
    ...                                ' "chosen": "4", "rejected": "5"}'])
    >>> rows[0].prompt_id, rows[0].weight
    ('line-1', 1.0)
    >>> hh_prompt(rows[0].prompt)
    '\\n\\nHuman: 2+2?\\n\\nAssistant:'
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

ROLES = ("system", "user", "assistant")
NO_GROUP = "(none)"  # the bucket of rows whose labeler is in no group
POOLED = "pooled"  # the reward model trained on every group's rows (beside one per group)
SPLITS = ("train", "eval")
HH_ROLE_NAMES = {"system": "System", "user": "Human", "assistant": "Assistant"}

Message = dict[str, str]


class DataError(ValueError):
    """A data file is invalid; the message names the file, line and field."""


@dataclass(frozen=True)
class PreferenceRow:
    """One comparison: ``chosen`` was preferred to ``rejected`` after ``prompt``."""

    prompt: list[Message]
    chosen: str
    rejected: str
    weight: float = 1.0
    groups: list[str] = field(default_factory=list)
    prompt_id: str = ""
    split: str | None = None
    # How strongly ``chosen`` won, 0..1 from the 8-point scale; None when not judged on it.
    strength: float | None = None
    # Pseudonymous id of the labeler who judged (their project pseudonym, never a name); None
    # for imported or adjudicated rows. Latent-group discovery clusters labelers by it.
    labeler: str | None = None
    # The annotation item the pair was judged on (None for imported files without one): the
    # run page matches reward-model findings with the admin report's items (issue 15).
    item_id: int | None = None


@dataclass(frozen=True)
class SFTRow:
    """One demonstration: the ideal ``completion`` after ``prompt``."""

    prompt: list[Message]
    completion: str
    prompt_id: str = ""
    split: str | None = None


@dataclass(frozen=True)
class PromptRow:
    """A prompt to sample from (PPO/GRPO); ``answer`` feeds rule-based rewards."""

    prompt: list[Message]
    prompt_id: str = ""
    answer: str | None = None
    split: str | None = None


Row = PreferenceRow | SFTRow | PromptRow
R = TypeVar("R", PreferenceRow, SFTRow, PromptRow)


# --- parsing -----------------------------------------------------------------------------


def _field(obj: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    if name not in obj:
        raise DataError(f"{where}: missing field {name!r}")
    value = obj[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        expected = (
            kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        )
        raise DataError(f"{where}: field {name!r} must be {expected}, got {value!r:.60}")
    return value


def _messages(obj: dict[str, Any], where: str) -> list[Message]:
    messages = _field(obj, "prompt", list, where)
    if not messages:
        raise DataError(f"{where}: field 'prompt' must hold at least one message")
    for i, m in enumerate(messages):
        at = f"{where}: field 'prompt[{i}]'"
        if not isinstance(m, dict):
            raise DataError(f"{at} must be an object with role and content, got {m!r:.60}")
        if m.get("role") not in ROLES:
            raise DataError(f"{at}.role must be one of {', '.join(ROLES)}, got {m.get('role')!r}")
        if not isinstance(m.get("content"), str):
            raise DataError(f"{at}.content must be str, got {m.get('content')!r:.60}")
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def _common(obj: dict[str, Any], where: str, lineno: int) -> dict[str, Any]:
    prompt_id = obj.get("prompt_id", f"line-{lineno}")
    if not isinstance(prompt_id, str | int) or isinstance(prompt_id, bool):
        raise DataError(f"{where}: field 'prompt_id' must be str, got {prompt_id!r:.60}")
    split = obj.get("split")
    if split is not None and split not in SPLITS:
        raise DataError(f"{where}: field 'split' must be 'train' or 'eval', got {split!r:.60}")
    return {"prompt": _messages(obj, where), "prompt_id": str(prompt_id), "split": split}


def _preference(obj: dict[str, Any], where: str, lineno: int) -> PreferenceRow:
    common = _common(obj, where, lineno)
    weight = obj.get("weight", 1.0)
    if not isinstance(weight, int | float) or isinstance(weight, bool) or not weight > 0:
        raise DataError(f"{where}: field 'weight' must be a number > 0, got {weight!r:.60}")
    groups = obj.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise DataError(f"{where}: field 'groups' must be a list of str, got {groups!r:.60}")
    strength = obj.get("strength")
    if strength is not None and (
        not isinstance(strength, int | float)
        or isinstance(strength, bool)
        or not 0 <= strength <= 1
    ):
        raise DataError(f"{where}: field 'strength' must be a number in 0..1, got {strength!r:.60}")
    labeler = obj.get("labeler")
    if labeler is not None and not isinstance(labeler, str):
        raise DataError(f"{where}: field 'labeler' must be str, got {labeler!r:.60}")
    item_id = obj.get("item_id")
    if item_id is not None and (not isinstance(item_id, int) or isinstance(item_id, bool)):
        raise DataError(f"{where}: field 'item_id' must be an integer, got {item_id!r:.60}")
    return PreferenceRow(
        labeler=labeler,
        chosen=_field(obj, "chosen", str, where),
        rejected=_field(obj, "rejected", str, where),
        weight=float(weight),
        groups=list(groups),
        strength=None if strength is None else float(strength),
        item_id=item_id,
        **common,
    )


def _sft(obj: dict[str, Any], where: str, lineno: int) -> SFTRow:
    common = _common(obj, where, lineno)
    return SFTRow(completion=_field(obj, "completion", str, where), **common)


def _prompt(obj: dict[str, Any], where: str, lineno: int) -> PromptRow:
    common = _common(obj, where, lineno)
    answer = obj.get("answer")
    if answer is not None and not isinstance(answer, str):
        raise DataError(f"{where}: field 'answer' must be str, got {answer!r:.60}")
    return PromptRow(answer=answer, **common)


def _parse_lines(
    lines: Iterable[str], parse: Callable[[dict[str, Any], str, int], R], source: str
) -> list[R]:
    rows: list[R] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}line {lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from exc
        if not isinstance(obj, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        rows.append(parse(obj, where, lineno))
    if not rows:
        raise DataError(f"{source or 'data'}: no rows")
    return rows


def _read_lines(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return f.readlines()


def parse_preference_lines(lines: Iterable[str], source: str = "") -> list[PreferenceRow]:
    return _parse_lines(lines, _preference, source)


def load_preference_rows(path: str | Path) -> list[PreferenceRow]:
    """Read preference rows from a JSONL file (optionally .gz)."""
    return parse_preference_lines(_read_lines(path), f"{path}: ")


def load_sft_rows(path: str | Path) -> list[SFTRow]:
    """Read demonstration rows from a JSONL file (optionally .gz)."""
    return _parse_lines(_read_lines(path), _sft, f"{path}: ")


def load_prompt_rows(path: str | Path) -> list[PromptRow]:
    """Read prompt-only rows from a JSONL file (optionally .gz)."""
    return _parse_lines(_read_lines(path), _prompt, f"{path}: ")


LOADERS: dict[type, Callable[[str | Path], Sequence[Row]]] = {
    PreferenceRow: load_preference_rows,
    SFTRow: load_sft_rows,
    PromptRow: load_prompt_rows,
}


def as_rows(data: Sequence[R] | str | Path, kind: type[R]) -> list[R]:
    """Rows given directly, or loaded from a JSONL path; checks they are of ``kind``."""
    if isinstance(data, str | Path):
        rows = list(LOADERS[kind](data))
    else:
        rows = list(data)
    if not rows:
        raise DataError(f"no {kind.__name__} rows")
    for i, row in enumerate(rows):
        if not isinstance(row, kind):
            raise DataError(f"row {i}: expected {kind.__name__}, got {type(row).__name__}")
    return rows  # type: ignore[return-value]


# --- train/eval split ----------------------------------------------------------------------


def split_rows(rows: Sequence[R], eval_fraction: float, seed: int) -> tuple[list[R], list[R]]:
    """(train, eval). Rows' own ``split`` wins; when no row has one, a seeded hash of the
    prompt_id sends about ``eval_fraction`` of the prompts to eval (a prompt's rows stay together).
    """
    if any(r.split is not None for r in rows):
        return [r for r in rows if r.split != "eval"], [r for r in rows if r.split == "eval"]

    def held_out(prompt_id: str) -> bool:
        digest = hashlib.sha256(f"{seed}:{prompt_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < eval_fraction

    train = [r for r in rows if not held_out(r.prompt_id)]
    return train, [r for r in rows if held_out(r.prompt_id)]


# --- group balancing -----------------------------------------------------------------------


def row_groups(row: PreferenceRow) -> list[str]:
    """The row's labeler groups, or ``[NO_GROUP]``."""
    return row.groups or [NO_GROUP]


def balanced_weights(rows: Sequence[PreferenceRow]) -> list[float]:
    """Row weights rescaled so every group holds the same total (a row's weight is split
    evenly among its groups); the overall total is unchanged."""
    mass: dict[str, float] = {}
    for row in rows:
        for g in row_groups(row):
            mass[g] = mass.get(g, 0.0) + row.weight / len(row_groups(row))
    total, n = sum(mass.values()), len(mass)
    return [
        row.weight * sum(total / (n * mass[g]) for g in row_groups(row)) / len(row_groups(row))
        for row in rows
    ]


def row_weights(
    rows: Sequence[PreferenceRow], *, group_balance: bool, strength: str = "ignore"
) -> list[float]:
    """The weights a trainer gives its training rows: their own, or group-balanced; with
    ``strength`` "weight", each row's own weight is first multiplied by ``strength_factor``,
    then balanced, so strength moves influence within a group and balance still gives every
    group the same total."""
    if strength == "weight":
        rows = [replace(row, weight=row.weight * strength_factor(row)) for row in rows]
    return balanced_weights(rows) if group_balance else [row.weight for row in rows]


def strength_factor(row: PreferenceRow) -> float:
    """A row's weight factor under strength "weight": (1 + 3 * strength) / 4, i.e. 1, 3/4, 1/2,
    1/4 for "much better" .. "marginally better" (never 0, so a marginal preference still
    counts); 1 for a row without a strength."""
    return 1.0 if row.strength is None else (1.0 + 3.0 * row.strength) / 4.0


def row_margins(
    rows: Sequence[PreferenceRow], *, strength: str, margin_scale: float
) -> list[float]:
    """Each row's loss margin m: ``margin_scale * strength`` with strength "margin" (Llama 2's
    -log s(r_c - r_r - m)), else 0; 0 for a row without a strength."""
    if strength != "margin":
        return [0.0] * len(rows)
    return [0.0 if r.strength is None else margin_scale * r.strength for r in rows]


def loss_denominator(weights: Sequence[float], batch_size: int) -> float:
    """The one constant every batch's weighted loss sum is divided by: the mean training weight
    times the batch size. A constant (not the batch's own weight sum) keeps each pair's
    influence proportional to its weight whatever the batch it lands in; with unit weights and
    a full batch the loss is the batch mean."""
    return sum(weights) / len(weights) * batch_size if weights else float(batch_size)


def influence_shares(rows: Sequence[PreferenceRow], weights: Sequence[float]) -> dict[str, float]:
    """Each labeler group's share of the total training weight (a row's weight split evenly
    among its groups): with ``loss_denominator``, its share of the influence on training."""
    mass: dict[str, float] = {}
    for row, weight in zip(rows, weights, strict=True):
        for g in row_groups(row):
            mass[g] = mass.get(g, 0.0) + weight / len(row_groups(row))
    total = sum(mass.values())
    return {g: m / total for g, m in sorted(mass.items())} if total else {}


# --- chat formatting -----------------------------------------------------------------------


class ChatTokenizer(Protocol):
    """The part of a Hugging Face tokenizer that formatting needs."""

    chat_template: str | None
    eos_token: str | None

    def apply_chat_template(self, conversation: Any, **kwargs: Any) -> Any: ...


def hh_prompt(messages: Sequence[Message]) -> str:
    """Anthropic HH style: '\\n\\nHuman: ...\\n\\nAssistant: ...' ending with an open assistant turn."""
    turns = "".join(f"\n\n{HH_ROLE_NAMES[m['role']]}: {m['content']}" for m in messages)
    return turns + "\n\nAssistant:"


def format_example(
    tokenizer: ChatTokenizer, messages: Sequence[Message], completion: str | None = None
) -> tuple[str, str, bool]:
    """(prompt_text, completion_text, closed).

    With a chat template the prompt is the templated conversation with the generation prompt,
    and the completion is whatever the template adds for the assistant message (so it carries the
    template's end-of-turn marker: ``closed`` is True). Without one, the HH format is used and the
    caller appends EOS (``closed`` is False).
    """
    if getattr(tokenizer, "chat_template", None):
        prompt_text = tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=True
        )
        if completion is None:
            return prompt_text, "", False
        full = tokenizer.apply_chat_template(
            [*messages, {"role": "assistant", "content": completion}], tokenize=False
        )
        if full.startswith(prompt_text):
            return prompt_text, full[len(prompt_text) :], True
        return prompt_text, completion, False
    prompt_text = hh_prompt(messages)
    if completion is None:
        return prompt_text, "", False
    if completion and not completion[0].isspace():
        completion = " " + completion
    return prompt_text, completion, False
