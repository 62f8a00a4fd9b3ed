"""Chorus's own JSONL import schema: one item per line.

    {"id": "optional external id",
     "prompt": "a string" | [{"role": "system"|"user"|"assistant", "content": "..."}, ...],
     "completions": [{"text": "...", "model": "optional", "generation_settings": {...}}, ...],
     "purpose": "regular" | "gold" | "screening",          (optional, default regular)
     "gold_best": 0,                                        (gold/screening: best position)
     "judgments": [                                         (optional, external judgments)
        {"source": "name", "choice": "a"|"b"|"tie"|"both_bad", "scale": 1..8},
        {"source": "name", "ranks": [1, 2, 2], "none_acceptable": false}]}

Pairwise projects need exactly 2 completions, ranking projects 2..K, demonstration projects
none (the labeler writes the response).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from annotation.formats.base import (
    ImportFileError,
    ParsedCompletion,
    ParsedItem,
    ParsedJudgment,
    parse_json_line,
    parse_messages,
    require,
)

PURPOSES = ("regular", "gold", "screening")
CHOICES = ("a", "b", "tie", "both_bad")


def parse(lines: Iterable[tuple[int, str]]) -> Iterator[ParsedItem]:
    for number, line in lines:
        yield parse_row(parse_json_line(number, line), number)


def parse_row(row: dict[str, Any], number: int) -> ParsedItem:
    prompt = parse_messages(row.get("prompt"), number, "prompt") if "prompt" in row else None
    if prompt is None:
        raise ImportFileError("missing", line=number, field="prompt")
    raw_completions = row.get("completions", [])
    if not isinstance(raw_completions, list):
        raise ImportFileError("expected a list", line=number, field="completions")
    completions = tuple(_completion(c, number, i) for i, c in enumerate(raw_completions))
    purpose = row.get("purpose", "regular")
    if purpose not in PURPOSES:
        raise ImportFileError(f"must be one of {', '.join(PURPOSES)}", line=number, field="purpose")
    gold = row.get("gold_best")
    if gold is not None and (
        not isinstance(gold, int) or isinstance(gold, bool) or not 0 <= gold < len(completions)
    ):
        raise ImportFileError(
            f"must be a completion index 0..{len(completions) - 1}", line=number, field="gold_best"
        )
    if purpose != "regular" and gold is None:
        raise ImportFileError(f"{purpose} items need gold_best", line=number, field="gold_best")
    raw_judgments = row.get("judgments", [])
    if not isinstance(raw_judgments, list):
        raise ImportFileError("expected a list", line=number, field="judgments")
    judgments = tuple(
        _judgment(j, number, i, len(completions)) for i, j in enumerate(raw_judgments)
    )
    external_id = row.get("id", "")
    if not isinstance(external_id, str | int) or isinstance(external_id, bool):
        raise ImportFileError("expected a string or integer", line=number, field="id")
    return ParsedItem(number, prompt, completions, str(external_id), purpose, gold, judgments)


def _completion(value: Any, number: int, index: int) -> ParsedCompletion:
    where = f"completions[{index}]."
    if isinstance(value, str):
        return ParsedCompletion(value)
    if not isinstance(value, dict):
        raise ImportFileError(
            "expected an object or a string", line=number, field=f"completions[{index}]"
        )
    settings = value.get("generation_settings", {})
    if not isinstance(settings, dict):
        raise ImportFileError(
            "expected an object", line=number, field=f"{where}generation_settings"
        )
    model = value.get("model", "")
    if not isinstance(model, str):
        raise ImportFileError("expected a string", line=number, field=f"{where}model")
    return ParsedCompletion(require(value, "text", str, number, where), model, settings)


def _judgment(value: Any, number: int, index: int, size: int) -> ParsedJudgment:
    where = f"judgments[{index}]."
    if not isinstance(value, dict):
        raise ImportFileError("expected an object", line=number, field=f"judgments[{index}]")
    source = require(value, "source", str, number, where).strip()
    if not source:  # an empty source would read as a Chorus labeler's ("human") in exports
        raise ImportFileError(
            "must name where the judgment came from (e.g. the dataset)",
            line=number,
            field=f"{where}source",
        )
    if "ranks" in value:
        ranks = require(value, "ranks", list, number, where)
        if len(ranks) != size or not all(
            isinstance(r, int) and not isinstance(r, bool) and 1 <= r <= size for r in ranks
        ):
            raise ImportFileError(
                f"expected {size} ranks between 1 and {size}", line=number, field=f"{where}ranks"
            )
        none_ok = value.get("none_acceptable", False)
        if not isinstance(none_ok, bool):
            raise ImportFileError(
                "expected true or false", line=number, field=f"{where}none_acceptable"
            )
        return ParsedJudgment(source, ranks=tuple(ranks), none_acceptable=none_ok)
    choice = require(value, "choice", str, number, where)
    if choice not in CHOICES:
        raise ImportFileError(
            f"must be one of {', '.join(CHOICES)}", line=number, field=f"{where}choice"
        )
    scale = value.get("scale")
    valid = {"a": range(1, 5), "b": range(5, 9)}.get(choice, range(0))
    if scale is not None and (
        not isinstance(scale, int) or isinstance(scale, bool) or scale not in valid
    ):
        raise ImportFileError(
            f"scale {scale!r} does not fit choice {choice!r}", line=number, field=f"{where}scale"
        )
    return ParsedJudgment(source, pairwise_choice=choice, scale=scale)
