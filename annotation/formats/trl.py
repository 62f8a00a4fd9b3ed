"""TRL preference rows: `{"prompt": ..., "chosen": ..., "rejected": ...}`.

Plain rows hold strings; conversational rows hold message lists, where `chosen` and
`rejected` are the assistant messages that follow the prompt (TRL's "conversational
preference" format). An implicit-prompt row (no `prompt`, full conversations in chosen and
rejected) is split at the last turn. The preference is kept as an external judgment.

Export writes the same format (`services/exports.py`); `annotation/preferences.py` says how
ties, both-bad and rankings become rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from annotation.formats.base import (
    ImportFileError,
    ParsedCompletion,
    ParsedItem,
    ParsedJudgment,
    ParsedTurn,
    parse_json_line,
    parse_messages,
)

SOURCE = "trl"


def parse(lines: Iterable[tuple[int, str]]) -> Iterator[ParsedItem]:
    for number, line in lines:
        yield parse_row(parse_json_line(number, line), number)


def _reply(value: Any, number: int, name: str) -> tuple[list[ParsedTurn], str]:
    """Return (extra context turns, final reply text) for a chosen/rejected value."""
    if isinstance(value, str):
        return [], value
    turns = list(parse_messages(value, number, name))
    if turns[-1].role != "assistant":
        raise ImportFileError(
            "the last message must be from the assistant", line=number, field=name
        )
    return turns[:-1], turns[-1].content


def parse_row(row: dict[str, Any], number: int) -> ParsedItem:
    for key in ("chosen", "rejected"):
        if key not in row:
            raise ImportFileError("missing", line=number, field=key)
    chosen_context, chosen = _reply(row["chosen"], number, "chosen")
    rejected_context, rejected = _reply(row["rejected"], number, "rejected")
    if "prompt" in row:
        prompt = list(parse_messages(row["prompt"], number, "prompt"))
        if chosen_context or rejected_context:
            raise ImportFileError(
                "with an explicit prompt, chosen must be the reply alone",
                line=number,
                field="chosen",
            )
    else:
        if chosen_context != rejected_context or not chosen_context:
            raise ImportFileError(
                "missing (and chosen/rejected do not share a prompt)", line=number, field="prompt"
            )
        prompt = chosen_context
    return ParsedItem(
        line=number,
        prompt=tuple(prompt),
        completions=(ParsedCompletion(chosen), ParsedCompletion(rejected)),
        judgments=(ParsedJudgment(SOURCE, pairwise_choice="a"),),
    )
