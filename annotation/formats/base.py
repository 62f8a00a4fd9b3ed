"""What every import format parses into, and how files are read.

A format module turns numbered lines into `ParsedItem`s and raises `ImportFileError` naming the
line and field at the first problem. Nothing here touches the database: `services.items_import`
validates the whole file first and only then writes it, in one transaction.
"""

from __future__ import annotations

import gzip
import json
import math
import re
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


@dataclass(frozen=True)
class Limits:
    """How much an import file may hold; the reader stops at the first cap it passes.

    `services.imports` fills these from the CHORUS_MAX_* settings; the defaults are the same."""

    import_bytes: int = 4 * 2**30  # decompressed
    line_bytes: int = 8 * 2**20


CHUNK = 64 * 1024  # bytes read (and, for gzip, inflated) at a time
MAX_DEPTH = 200  # JSON nesting: an OpenAssistant tree nests two levels per turn
MAX_INT_DIGITS = 30  # JSON integers; counts, ranks and scales need a handful


def read_lines(path: Path, limits: Limits | None = None) -> Iterator[tuple[int, str]]:
    """Yield (line number, text) for non-blank lines of a UTF-8 file, gzip or plain.

    Reads bounded chunks (a gzip is inflated CHUNK bytes at a time), so memory stays under
    about one line of `limits.line_bytes`; a longer line, or more than `limits.import_bytes`
    in all once decompressed, stops the read with a located ImportFileError."""
    limits = limits or Limits()
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open(path, "rb") if gzipped else open(path, "rb")  # noqa: SIM115
    number = 0
    with opener as binary:
        for number, data in _split_lines(binary, limits):  # noqa: B007
            try:
                line = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ImportFileError(f"not valid UTF-8 ({exc.reason})", line=number) from exc
            if line.strip():
                yield number, line
    if number == 0:
        raise ImportFileError("the file is empty")


def _split_lines(binary: Any, limits: Limits) -> Iterator[tuple[int, bytes]]:
    """(number, bytes) per line, read CHUNK bytes at a time, with the caps checked as it goes."""
    pending: list[bytes] = []  # pieces of the line being read
    pending_size = total = 0
    number = 1
    while True:
        try:
            chunk = binary.read(CHUNK)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise ImportFileError(
                f"the gzip file is truncated or corrupt after line {number - 1} ({exc})",
                line=number,
            ) from exc
        if not chunk:
            break
        total += len(chunk)
        if total > limits.import_bytes:
            raise ImportFileError(
                f"the file is larger than {limits.import_bytes} bytes once decompressed",
                line=number,
            )
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            if pending_size + end - start > limits.line_bytes:
                raise ImportFileError(f"longer than {limits.line_bytes} bytes", line=number)
            pending.append(chunk[start:end])
            yield number, b"".join(pending)
            pending, pending_size, number, start = [], 0, number + 1, end + 1
        pending_size += len(chunk) - start
        if pending_size > limits.line_bytes:
            raise ImportFileError(f"longer than {limits.line_bytes} bytes", line=number)
        pending.append(chunk[start:])
    if pending_size:
        yield number, b"".join(pending)


class _TooBig:
    """What an over-long JSON integer parses to, so the row walk can name its field."""

    def __init__(self, digits: int):
        self.digits = digits


_BRACKETS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')  # strings skipped whole
_DEPTH = {"[": 1, "{": 1, "]": -1, "}": -1}


def _check_depth(number: int, line: str) -> None:
    """Refuse JSON nested deeper than MAX_DEPTH before the (recursive) parser sees it."""
    if line.count("[") + line.count("{") <= MAX_DEPTH:
        return  # cannot be too deep: the common case costs two counts
    depth = 0
    for match in _BRACKETS.finditer(line):
        depth += _DEPTH.get(match.group(), 0)
        if depth > MAX_DEPTH:
            raise ImportFileError(
                f"JSON nested deeper than {MAX_DEPTH} levels (at column {match.start() + 1})",
                line=number,
            )


def _parse_int(text: str) -> int | _TooBig:
    digits = len(text) - text.startswith("-")
    return _TooBig(digits) if digits > MAX_INT_DIGITS else int(text)


def _parse_float(number: int) -> Any:
    def parse(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise ImportFileError(f"number {text[:40]} is out of range", line=number)
        return value

    return parse


def _refuse_constant(number: int) -> Any:
    def parse(name: str) -> None:
        raise ImportFileError(f"not valid JSON ({name} is not a JSON number)", line=number)

    return parse


def _find_too_big(value: Any, path: str) -> tuple[str, _TooBig] | None:
    """The first over-long integer in a parsed row, with its field path (depth is capped)."""
    if isinstance(value, _TooBig):
        return path, value
    children: Any = (
        ((f"{path}.{k}" if path else str(k), v) for k, v in value.items())
        if isinstance(value, dict)
        else ((f"{path}[{i}]", v) for i, v in enumerate(value))
        if isinstance(value, list)
        else ()
    )
    for child_path, child in children:
        if (found := _find_too_big(child, child_path)) is not None:
            return found
    return None


def parse_json_line(number: int, line: str) -> dict[str, Any]:
    """One JSON object per line, with nesting, integer size and non-finite numbers refused."""
    _check_depth(number, line)
    too_big: list[bool] = []

    def parse_int(text: str) -> int | _TooBig:
        value = _parse_int(text)
        if isinstance(value, _TooBig):
            too_big.append(True)
        return value

    try:
        value = json.loads(
            line,
            parse_int=parse_int,
            parse_float=_parse_float(number),
            parse_constant=_refuse_constant(number),
        )
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            f"not valid JSON ({exc.msg} at column {exc.colno})", line=number
        ) from exc
    except RecursionError as exc:  # a safety net: _check_depth should have refused it
        raise ImportFileError(f"JSON nested deeper than {MAX_DEPTH} levels", line=number) from exc
    if too_big and (found := _find_too_big(value, "")) is not None:
        where, big = found
        raise ImportFileError(
            f"an integer of {big.digits} digits (at most {MAX_INT_DIGITS})",
            line=number,
            field=where or None,
        )
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
