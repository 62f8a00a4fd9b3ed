"""What every import format parses into, and how files are read.

A format module turns numbered lines into `ParsedItem`s and raises `ImportFileError` naming the
line and field at the first problem. Nothing here touches the database: `services.items_import`
validates the whole file first and only then writes it, in one transaction.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROLES = ("system", "user", "assistant")


class ImportFileError(ValueError):
    """A problem in an import file, located by line (1-based) and field."""

    def __init__(self, message: str, *, line: int | None = None, field: str | None = None):
        self.message, self.line, self.field = message, line, field
        where = ", ".join(
            part
            for part in (f"line {line}" if line else "", f"field '{field}'" if field else "")
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class ParsedTurn:
    role: str
    content: str


@dataclass(frozen=True)
class ParsedCompletion:
    text: str
    source_model: str = ""
    generation_settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedJudgment:
    """An external judgment that came with the data, in canonical positions."""

    source: str
    pairwise_choice: str = ""  # "a", "b", "tie", "both_bad" or "" for rankings
    scale: int | None = None
    ranks: tuple[int, ...] = ()  # rank per canonical position, 1 = best; equal ranks tie
    none_acceptable: bool = False


@dataclass(frozen=True)
class ParsedItem:
    line: int
    prompt: tuple[ParsedTurn, ...]
    completions: tuple[ParsedCompletion, ...]
    external_id: str = ""
    purpose: str = "regular"
    gold_best_position: int | None = None
    judgments: tuple[ParsedJudgment, ...] = ()


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, text) for non-blank lines of a UTF-8 file, gzip or plain."""
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open(path, "rb") if gzipped else open(path, "rb")  # noqa: SIM115
    number = 0
    with opener as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8", newline="")
        try:
            for number, line in enumerate(text, start=1):  # noqa: B007
                if line.strip():
                    yield number, line
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise ImportFileError(
                f"the gzip file is truncated or corrupt after line {number} ({exc})",
                line=number + 1,
            ) from exc
        except UnicodeDecodeError as exc:
            raise ImportFileError(f"not valid UTF-8 ({exc.reason})", line=number + 1) from exc
    if number == 0:
        raise ImportFileError("the file is empty")


def parse_json_line(number: int, line: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            f"not valid JSON ({exc.msg} at column {exc.colno})", line=number
        ) from exc
    if not isinstance(value, dict):
        raise ImportFileError(f"expected a JSON object, got {type(value).__name__}", line=number)
    return value


def require(
    row: dict[str, Any], key: str, kind: type | tuple[type, ...], number: int, where: str = ""
) -> Any:
    """Return row[key], raising a located error when it is missing or of the wrong type."""
    name = f"{where}{key}"
    if key not in row:
        raise ImportFileError("missing", line=number, field=name)
    value = row[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        expected = (
            kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        )
        raise ImportFileError(
            f"expected {expected}, got {type(value).__name__}", line=number, field=name
        )
    return value


def parse_messages(value: Any, number: int, name: str) -> tuple[ParsedTurn, ...]:
    """A prompt given as a string (one user turn) or a list of {role, content} messages."""
    if isinstance(value, str):
        return (ParsedTurn("user", value),)
    if not isinstance(value, list) or not value:
        raise ImportFileError(
            "expected a string or a non-empty list of messages", line=number, field=name
        )
    turns = []
    for index, message in enumerate(value):
        where = f"{name}[{index}]."
        if not isinstance(message, dict):
            raise ImportFileError(
                "expected an object with role and content", line=number, field=f"{name}[{index}]"
            )
        role = require(message, "role", str, number, where)
        if role not in ROLES:
            raise ImportFileError(
                f"role must be one of {', '.join(ROLES)}, got {role!r}",
                line=number,
                field=f"{where}role",
            )
        turns.append(ParsedTurn(role, require(message, "content", str, number, where)))
    return tuple(turns)


HH_HUMAN, HH_ASSISTANT = "\n\nHuman: ", "\n\nAssistant: "


def hh_dialogue(turns: tuple[ParsedTurn, ...] | list[ParsedTurn], completion: str) -> str:
    """Render a conversation plus a final assistant reply in HH-RLHF's text format."""
    parts = [(HH_HUMAN if t.role != "assistant" else HH_ASSISTANT) + t.content for t in turns]
    return "".join(parts) + HH_ASSISTANT + completion
