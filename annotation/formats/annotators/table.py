"""Reading a per-annotator file: a CSV (comma, tab or semicolon) or JSONL table as
(line, row) pairs (`table`), and a cell as text (`_text`); errors name the line and column.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from annotation.formats.base import ImportFileError, parse_json_line


def table(lines: Iterable[tuple[int, str]]) -> tuple[list[str], Iterator[tuple[int, Any]]]:
    """(columns, rows as (line, dict)) of a CSV (comma, tab or semicolon; first row the
    header) or a JSONL file (columns: the first row's keys)."""
    lines = iter(lines)
    try:
        number, head = next(lines)
    except StopIteration:
        raise ImportFileError("the file holds no rows") from None
    if head.lstrip().startswith("{"):
        first = parse_json_line(number, head)

        def json_rows() -> Iterator[tuple[int, Any]]:
            yield number, first
            for n, text in lines:
                yield n, parse_json_line(n, text)

        return list(first), json_rows()
    return _csv(number, head, lines)


def _csv(
    number: int, head: str, lines: Iterator[tuple[int, str]]
) -> tuple[list[str], Iterator[tuple[int, Any]]]:
    delimiter = max(",\t;", key=head.count)
    consumed: list[int] = []

    def feed() -> Iterator[str]:
        for n, text in lines:
            consumed.append(n)
            yield text.rstrip("\r") + "\n"

    columns = next(csv.reader([head.rstrip("\r")], delimiter=delimiter))
    columns = [c.strip().lstrip("\ufeff") for c in columns]
    if len(set(columns)) != len(columns) or not all(columns):
        raise ImportFileError("column names must be non-empty and different", line=number)

    def rows() -> Iterator[tuple[int, Any]]:
        reader = csv.reader(feed(), delimiter=delimiter)
        while True:
            start = len(consumed)
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ImportFileError(f"not valid CSV ({exc})", line=consumed[-1]) from exc
            line = consumed[start] if start < len(consumed) else consumed[-1]
            if len(values) != len(columns):
                raise ImportFileError(f"{len(values)} values for {len(columns)} columns", line=line)
            yield line, dict(zip(columns, values, strict=True))

    return columns, rows()


def _text(row: dict[str, Any], column: str, number: int, *, required: bool = True) -> str:
    """A cell as text (numbers as written, e.g. 1 not 1.0); missing/empty is an error when
    required."""
    value = row.get(column)
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        value = str(int(value))
    elif isinstance(value, float):
        value = repr(value)
    elif value is None:
        value = ""
    elif not isinstance(value, str):
        raise ImportFileError(f"expected text, got {type(value).__name__}", line=number,
                              field=column)  # fmt: skip
    value = value.strip()
    if required and not value:
        raise ImportFileError("missing" if column not in row else "empty", line=number,
                              field=column)  # fmt: skip
    return value
