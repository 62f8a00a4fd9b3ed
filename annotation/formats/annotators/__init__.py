"""Per-annotator judgments in long format: one row per (annotator, item) judgment, CSV or JSONL.

This is the shape of the multi-annotator datasets that record who judged what (DICES,
per-rater toxicity sets, pairwise preference sets with worker ids). A row names the item (an
item id, or the prompt and responses themselves), the annotator's id, their judgment, and
optionally the annotator's attributes; attributes may instead come from a separate annotators
file (CSV or JSONL, one row per annotator id). Which column holds what is a *mapping*
(`Mapping`); every key left out is detected from common column names (`detect`).

Shapes, by the project's kind:

* rating (one response per item): `labels` columns, each a criterion whose values are
  categorical labels ("Yes"/"No"/"Unsure", 0/1, ...); an empty cell is a missing rating.
* pairwise: `response_a` and `response_b` with a `choice` column (a/b/tie/both_bad, also
  1/2, response_a/model_a ..., see CHOICES) or an 8-point `scale`; or a chosen/rejected
  layout (`response_a` = chosen, `response_b` = rejected, no choice column): the annotator
  preferred their chosen response.
* ranking: `responses` (2..K columns) and a `ranks` column ("1,2,2" or a JSON list, 1 = best).

Rows about the same item are grouped by item id (or, without one, by the prompt and responses);
the first row fixes the item's texts and response order, and a later row whose texts differ
is an error. Each annotator judges an item at most once. Nothing here touches the database:
`services.imports` validates the whole file (read whole: the grouping needs it) and writes it
in one transaction; any problem is an ImportFileError naming the line and field.

`parse` here reads a file through the package's modules: `table` (the file's rows, CSV or
JSONL), `mapping` (which column holds what) and `rows` (rows grouped into items and judgments).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from typing import Any

from annotation.formats.annotators.mapping import (
    ANNOTATOR,
    ATTRIBUTE_PREFIXES,
    CHOICE,
    DEMOGRAPHICS,
    ITEM_ID,
    LABELS,
    PROMPT,
    RESPONSE,
    RESPONSE_A,
    RESPONSE_B,
    Mapping,
    attribute_name,
    detect,
    mapping_parse,
)
from annotation.formats.annotators.rows import (
    CHOICES,
    FLIP,
    NOT_STATED,
    POSITIVE,
    AnnotatorData,
    AnnotatorJudgment,
    _Parser,
)
from annotation.formats.annotators.table import _text, table
from annotation.formats.base import ImportFileError

__all__ = [
    "ANNOTATOR",
    "ATTRIBUTE_PREFIXES",
    "CHOICE",
    "CHOICES",
    "DEMOGRAPHICS",
    "FLIP",
    "ITEM_ID",
    "LABELS",
    "NOT_STATED",
    "POSITIVE",
    "PROMPT",
    "REQUIRED",
    "RESPONSE",
    "RESPONSE_A",
    "RESPONSE_B",
    "AnnotatorData",
    "AnnotatorJudgment",
    "Mapping",
    "attribute_name",
    "detect",
    "mapping_parse",
    "parse",
    "table",
]

REQUIRED = {
    "rating": ("prompt", "response", "annotator_id", "labels"),
    "pairwise": ("prompt", "response_a", "response_b", "annotator_id"),
    "ranking": ("prompt", "responses", "ranks", "annotator_id"),
}


def _check_columns(mapping: Mapping, kind: str, columns: list[str], number: int) -> None:
    for key in REQUIRED[kind]:
        if not getattr(mapping, key):
            raise ImportFileError(
                f"no column found for {key}; name it in the mapping", line=number,
                field=f"mapping.{key}",
            )  # fmt: skip
    if kind == "ranking" and not 2 <= len(mapping.responses) <= 9:
        raise ImportFileError("a ranking needs 2..9 response columns", field="mapping.responses")
    for f in fields(Mapping):
        value = getattr(mapping, f.name)
        skip = ("positive", "dataset", "chosen_rejected", "annotator_attributes", "choice_values")
        if f.name in skip:
            continue
        for column in value if isinstance(value, tuple) else (value,) if value else ():
            if column not in columns:
                raise ImportFileError(
                    f"no column {column!r} in the file", line=number, field=f"mapping.{f.name}"
                )


def parse(
    lines: Iterable[tuple[int, str]],
    *,
    kind: str,
    mapping: dict[str, Any],
    annotator_lines: Iterable[tuple[int, str]] | None = None,
    max_k: int = 9,
) -> AnnotatorData:
    """The whole file (and the annotators file, if any), grouped into items and judgments."""
    if kind not in REQUIRED:
        raise ImportFileError(f"a {kind} project takes no per-annotator judgments")
    given = mapping_parse(mapping)
    columns, rows = table(lines)
    chosen = detect(columns, kind, given)
    if kind == "ranking" and len(chosen.responses) > max_k:
        raise ImportFileError(
            f"{len(chosen.responses)} responses; the project ranks at most {max_k}",
            field="mapping.responses",
        )
    parser = _Parser(kind, chosen, max_k)
    checked = False
    for number, row in rows:
        if not checked:
            _check_columns(chosen, kind, list(row), number)
            checked = True
        parser.row(number, row)
    if not parser.data.judgments:
        raise ImportFileError("the file holds no judgments")
    if annotator_lines is not None:
        _annotators_file(parser, annotator_lines, chosen)
    data = parser.finish(chosen.positive)
    data.dataset = chosen.dataset
    return data


def _annotators_file(parser: _Parser, lines: Iterable[tuple[int, str]], mapping: Mapping) -> None:
    """Attributes from a file of one row per annotator id (errors name that file)."""
    try:
        columns, rows = table(lines)
        id_column = mapping.annotator_id if mapping.annotator_id in columns else ""
        id_column = id_column or detect(columns, "rating", {}).annotator_id
        if not id_column:
            raise ImportFileError("no annotator id column", field="annotator_id")
        attributes = mapping.annotator_attributes or tuple(c for c in columns if c != id_column)
        seen: dict[str, int] = {}
        for number, row in rows:
            annotator = _text(row, id_column, number)
            if annotator in seen:
                raise ImportFileError(
                    f"annotator {annotator!r} is also on line {seen[annotator]}",
                    line=number,
                    field=id_column,
                )
            seen[annotator] = number
            if annotator in parser.data.annotators:  # others judged nothing here: skipped
                parser._attributes(annotator, row, number, attributes)
    except ImportFileError as exc:
        raise ImportFileError(
            f"annotators file: {exc.message}", line=exc.line, field=exc.field
        ) from exc
