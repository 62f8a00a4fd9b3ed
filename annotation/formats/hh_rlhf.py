"""Anthropic HH-RLHF: `{"chosen": "\\n\\nHuman: ...\\n\\nAssistant: ...", "rejected": "..."}`.

Each line is split into the shared conversation prefix (the longest run of identical turns)
and the two final replies. The rest of each dialogue from where they part is the completion;
in a handful of real rows the two dialogues part one turn early, and then a completion carries
the later turns verbatim. The chosen reply becomes canonical position A and the original
preference is kept as an external judgment ("a", without a strength on the 8-point scale).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from annotation.formats.base import (
    HH_ASSISTANT,
    HH_HUMAN,
    ImportFileError,
    ParsedCompletion,
    ParsedItem,
    ParsedJudgment,
    ParsedTurn,
    parse_json_line,
    require,
)

SOURCE = "hh-rlhf"
_SPEAKER = re.compile(r"\n\n(Human|Assistant): ")


def parse(lines: Iterable[tuple[int, str]]) -> Iterator[ParsedItem]:
    for number, line in lines:
        yield parse_row(parse_json_line(number, line), number)


def split_dialogue(text: str, number: int, name: str) -> list[ParsedTurn]:
    parts = _SPEAKER.split(text)
    if parts[0].strip() or len(parts) < 3:
        raise ImportFileError(
            "expected a dialogue starting with '\\n\\nHuman: '", line=number, field=name
        )
    return [
        ParsedTurn("user" if parts[i] == "Human" else "assistant", parts[i + 1])
        for i in range(1, len(parts), 2)
    ]


def parse_row(row: dict[str, Any], number: int) -> ParsedItem:
    chosen = split_dialogue(require(row, "chosen", str, number), number, "chosen")
    rejected = split_dialogue(require(row, "rejected", str, number), number, "rejected")
    shared = 0
    while shared < min(len(chosen), len(rejected)) - 1 and chosen[shared] == rejected[shared]:
        shared += 1
    for name, turns in (("chosen", chosen), ("rejected", rejected)):
        if turns[shared].role != "assistant":
            raise ImportFileError(
                "the reply after the shared prefix is not an Assistant turn",
                line=number,
                field=name,
            )
    if shared == 0:
        raise ImportFileError(
            "no shared Human turn before the replies", line=number, field="chosen"
        )

    def rest(turns: list[ParsedTurn]) -> str:
        later = "".join(
            (HH_ASSISTANT if t.role == "assistant" else HH_HUMAN) + t.content
            for t in turns[shared + 1 :]
        )
        return turns[shared].content + later

    return ParsedItem(
        line=number,
        prompt=tuple(chosen[:shared]),
        completions=(ParsedCompletion(rest(chosen)), ParsedCompletion(rest(rejected))),
        external_id=str(row.get("id", "")) if isinstance(row.get("id", ""), str | int) else "",
        judgments=(ParsedJudgment(SOURCE, pairwise_choice="a"),),
    )
