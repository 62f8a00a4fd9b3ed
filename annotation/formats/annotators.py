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
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from annotation.formats.base import (
    ImportFileError,
    ParsedCompletion,
    ParsedItem,
    ParsedTurn,
    parse_json_line,
    parse_messages,
)

# --- the mapping ---------------------------------------------------------------------------

_SINGLE = (
    "item_id", "prompt", "response", "response_a", "response_b", "model", "model_a", "model_b",
    "annotator_id", "choice", "scale", "ranks", "positive", "dataset",
)  # fmt: skip
_LISTS = ("responses", "labels", "attributes", "annotator_attributes")
_DICTS = ("choice_values",)


@dataclass(frozen=True)
class Mapping:
    """Which column holds what. Columns are matched case-insensitively."""

    item_id: str = ""  # groups rows into items (else the prompt and responses do)
    prompt: str = ""  # the prompt: text, or a list of {role, content} messages in JSONL
    response: str = ""  # rating: the one response
    response_a: str = ""  # pairwise: position A (the chosen response in a chosen/rejected file)
    response_b: str = ""  # pairwise: position B (the rejected one)
    responses: tuple[str, ...] = ()  # ranking: the responses' columns
    model: str = ""  # rating: the response's model (optional)
    model_a: str = ""  # pairwise: models of A and B (optional; the same model is refused)
    model_b: str = ""
    annotator_id: str = ""  # the dataset's annotator id
    choice: str = ""  # pairwise: which response the annotator preferred
    scale: str = ""  # pairwise: the 8-point scale, 1 = A much better .. 8 = B much better
    ranks: str = ""  # ranking: the annotator's ranks, one per response
    labels: tuple[str, ...] = ()  # rating: one criterion per column
    attributes: tuple[str, ...] = ()  # annotator attribute columns on the judgment rows
    annotator_attributes: tuple[str, ...] = ()  # attribute columns of the annotators file
    positive: str = ""  # rating: the label whose share per group the report gives
    dataset: str = ""  # a name for where the judgments came from (kept with each judgment)
    choice_values: dict[str, str] = field(
        default_factory=dict
    )  # pairwise: {value: a|b|tie|both_bad}
    chosen_rejected: bool = False  # pairwise: response_a/_b are chosen/rejected


def mapping_parse(value: Any) -> dict[str, Any]:
    """A mapping as given (JSON object of key -> column, or list of columns); unknown keys and
    wrong types are errors naming `mapping.<key>`."""
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ImportFileError(f"not valid JSON ({exc.msg})", field="mapping") from exc
    if not isinstance(value, dict):
        raise ImportFileError("expected a JSON object of key -> column", field="mapping")
    for key, column in value.items():
        if key not in _SINGLE + _LISTS + _DICTS:
            known = ", ".join(_SINGLE + _LISTS + _DICTS)
            raise ImportFileError(f"unknown key; use {known}", field=f"mapping.{key}")
        if key in _DICTS:
            if not isinstance(column, dict) or not all(
                isinstance(v, str) and v in ("a", "b", "tie", "both_bad") for v in column.values()
            ):
                raise ImportFileError(
                    "expected an object of value -> a, b, tie or both_bad", field=f"mapping.{key}"
                )
            continue
        ok = (
            isinstance(column, str)
            if key in _SINGLE
            else isinstance(column, list) and all(isinstance(c, str) for c in column)
        )
        if not ok:
            kind = "a string" if key in _SINGLE else "a list of column names"
            raise ImportFileError(f"expected {kind}", field=f"mapping.{key}")
    return value


ITEM_ID = ("item_id", "id", "item", "question_id", "conversation_id", "prompt_id", "sample_id")
PROMPT = ("prompt", "context", "question", "instruction", "input", "conversation")
RESPONSE = ("response", "completion", "answer", "output", "text")
RESPONSE_A = ("response_a", "completion_a", "answer_a", "output_a")
RESPONSE_B = ("response_b", "completion_b", "answer_b", "output_b")
ANNOTATOR = (
    "annotator_id", "rater_id", "worker_id", "labeler_id", "judge_id", "user_id", "annotator",
    "rater", "worker", "labeler", "judge",
)  # fmt: skip
CHOICE = ("preference", "choice", "winner", "label", "preferred")
LABELS = ("q_overall", "label", "rating", "toxic", "toxicity", "offensive")
ATTRIBUTE_PREFIXES = ("rater_", "annotator_", "worker_", "labeler_", "judge_")
DEMOGRAPHICS = (
    "gender", "age", "age_range", "age_group", "race", "ethnicity", "education", "country",
    "nationality", "region", "religion", "political_affiliation", "locale", "language",
)  # fmt: skip


def detect(columns: list[str], kind: str, given: dict[str, Any]) -> Mapping:
    """The mapping: `given` keys as they are, the others found among `columns` by name."""
    lower = {c.lower(): c for c in columns}

    def first(names: tuple[str, ...], avoid: tuple[str, ...] = ()) -> str:
        return next((lower[n] for n in names if n in lower and lower[n] not in avoid), "")

    found: dict[str, Any] = {
        "item_id": first(ITEM_ID),
        "prompt": first(PROMPT),
        "annotator_id": first(ANNOTATOR),
        "dataset": "",
    }
    if kind == "rating":
        found["response"] = first(RESPONSE, (found["prompt"],))
        found["model"] = first(("model", "source_model"))
        found["labels"] = tuple(c for c in [first(LABELS)] if c)
    elif kind == "pairwise":
        a, b = first(RESPONSE_A), first(RESPONSE_B)
        if not (a or b) and "chosen" in lower and "rejected" in lower:
            a, b = lower["chosen"], lower["rejected"]
        found.update(response_a=a, response_b=b, model_a=first(("model_a",)))
        found.update(model_b=first(("model_b",)), choice=first(CHOICE), scale=first(("scale",)))
    else:
        numbered = sorted(
            (c for c in columns if re.fullmatch(r"(response|completion|answer)_?\d+", c.lower())),
            key=lambda c: int(re.sub(r"\D", "", c)),
        )
        found.update(responses=tuple(numbered), ranks=first(("ranks", "ranking", "rank")))
    taken = {v for v in found.values() if isinstance(v, str)} | {
        c for v in found.values() if isinstance(v, tuple) for c in v
    }
    found["attributes"] = tuple(
        c
        for c in columns
        if c not in taken
        and (c.lower().startswith(ATTRIBUTE_PREFIXES) or c.lower() in DEMOGRAPHICS)
        and c != found["annotator_id"]
    )
    found.update({k: tuple(v) if k in _LISTS else v for k, v in given.items()})
    names = {f.name for f in fields(Mapping)}
    mapping = Mapping(**{k: v for k, v in found.items() if k in names})
    if kind == "pairwise" and not mapping.choice and not mapping.scale:
        return Mapping(**{**_as_dict(mapping), "chosen_rejected": True})
    return mapping


def _as_dict(mapping: Mapping) -> dict[str, Any]:
    return {f.name: getattr(mapping, f.name) for f in fields(Mapping)}


def attribute_name(column: str) -> str:
    """A column's attribute name: lowercase, the rater_/annotator_/... prefix dropped."""
    name = column.strip().lower()
    for prefix in ATTRIBUTE_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix) :]
            break
    name = re.sub(r"[^a-z0-9_]+", "_", name).strip("_")
    if not name or not name[0].isalpha():
        name = "a_" + name
    return name[:40]


# --- what a file parses into ---------------------------------------------------------------


@dataclass(frozen=True)
class AnnotatorJudgment:
    line: int
    item: int  # index into AnnotatorData.items
    annotator: str  # the dataset's annotator id
    choice: str = ""  # pairwise: a, b, tie, both_bad (canonical positions)
    scale: int | None = None
    ranks: tuple[int, ...] = ()  # ranking: rank per canonical position
    ratings: tuple[tuple[str, str], ...] = ()  # rating: (criterion, label)


@dataclass
class AnnotatorData:
    items: list[ParsedItem] = field(default_factory=list)
    judgments: list[AnnotatorJudgment] = field(default_factory=list)
    annotators: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> attributes
    criteria: dict[str, list[str]] = field(default_factory=dict)  # rating: name -> labels
    positive: dict[str, str] = field(default_factory=dict)  # rating: name -> positive label
    dataset: str = ""


CHOICES = {
    "a": "a", "response_a": "a", "model_a": "a", "1": "a", "left": "a", "first": "a",
    "b": "b", "response_b": "b", "model_b": "b", "2": "b", "right": "b", "second": "b",
    "tie": "tie", "equal": "tie", "same": "tie", "draw": "tie",
    "both_bad": "both_bad", "both bad": "both_bad", "bothbad": "both_bad",
    "tie (bothbad)": "both_bad", "neither": "both_bad",
}  # fmt: skip
POSITIVE = ("yes", "1", "true", "positive")
NOT_STATED = ("", "prefer not to say", "prefer_not_to_say")
FLIP = {"a": "b", "b": "a"}


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


# --- parsing ---------------------------------------------------------------------------------


class _Parser:
    def __init__(self, kind: str, mapping: Mapping, max_k: int):
        self.kind, self.map, self.max_k = kind, mapping, max_k
        self.data = AnnotatorData()
        self.keys: dict[Any, int] = {}  # item key -> index
        self.first_line: dict[int, int] = {}
        self.judged: dict[tuple[int, str], int] = {}  # (item, annotator) -> line
        self.attribute_lines: dict[tuple[str, str], int] = {}
        self.labels: dict[str, set[str]] = {c: set() for c in mapping.labels}

    def row(self, number: int, row: dict[str, Any]) -> None:
        annotator = _text(row, self.map.annotator_id, number)
        prompt = self._prompt(row, number)
        texts, models, names = self._responses(row, number)
        item, order = self._item(row, number, prompt, texts, models, names)
        seen = self.judged.get((item, annotator))
        if seen is not None:
            raise ImportFileError(
                f"annotator {annotator!r} already judged this item on line {seen}",
                line=number,
                field=self.map.annotator_id,
            )
        self.judged[item, annotator] = number
        self._attributes(annotator, row, number, self.map.attributes)
        self.data.judgments.append(self._judgment(row, number, item, annotator, order))

    def _prompt(self, row: dict[str, Any], number: int) -> tuple[ParsedTurn, ...]:
        value = row.get(self.map.prompt)
        if isinstance(value, list):
            return parse_messages(value, number, self.map.prompt)
        return (ParsedTurn("user", _text(row, self.map.prompt, number)),)

    def _responses(
        self, row: dict[str, Any], number: int
    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        if self.kind == "rating":
            names: tuple[str, ...] = (self.map.response,)
            model_columns: tuple[str, ...] = (self.map.model,)
        elif self.kind == "pairwise":
            names = (self.map.response_a, self.map.response_b)
            model_columns = (self.map.model_a, self.map.model_b)
        else:
            names, model_columns = self.map.responses, ("",) * len(self.map.responses)
        texts = tuple(_text(row, name, number) for name in names)
        models = tuple(_text(row, c, number, required=False) if c else "" for c in model_columns)
        if self.kind == "pairwise" and models[0] and models[0] == models[1]:
            raise ImportFileError(
                f"the same model {models[0]!r} on both sides: a self-comparison says nothing "
                "about which model is better",
                line=number,
                field=self.map.model_b,
            )
        return texts, models, names

    def _item(
        self,
        row: dict[str, Any],
        number: int,
        prompt: tuple[ParsedTurn, ...],
        texts: tuple[str, ...],
        models: tuple[str, ...],
        names: tuple[str, ...],
    ) -> tuple[int, list[int]]:
        """The item's index and, for each of this row's responses, its canonical position."""
        external = _text(row, self.map.item_id, number) if self.map.item_id else ""
        key = external or (prompt, frozenset(texts) if self.kind != "rating" else texts)
        index = self.keys.get(key)
        if index is None:
            index = self.keys[key] = len(self.data.items)
            self.first_line[index] = number
            completions = tuple(
                ParsedCompletion(t, source_model=m) for t, m in zip(texts, models, strict=True)
            )
            self.data.items.append(ParsedItem(number, prompt, completions, external_id=external))
            return index, list(range(len(texts)))
        item = self.data.items[index]
        first = self.first_line[index]
        if item.prompt != prompt:
            raise ImportFileError(
                f"item {external!r} has a different prompt on line {first}",
                line=number,
                field=self.map.prompt,
            )
        known = [c.text for c in item.completions]
        for name, text in zip(names, texts, strict=True):
            if text not in known or len(set(texts)) != len(texts):
                raise ImportFileError(
                    f"item {external!r} has different responses on line {first}",
                    line=number,
                    field=name,
                )
        return index, [known.index(text) for text in texts]

    def _attributes(
        self, annotator: str, row: dict[str, Any], number: int, columns: tuple[str, ...]
    ) -> None:
        mine = self.data.annotators.setdefault(annotator, {})
        for column in columns:
            value = _text(row, column, number, required=False)
            if value.lower() in NOT_STATED:
                continue
            if len(value) > 100:
                raise ImportFileError("longer than 100 characters", line=number, field=column)
            name = attribute_name(column)
            if name in mine and mine[name] != value:
                seen = self.attribute_lines[annotator, name]
                raise ImportFileError(
                    f"annotator {annotator!r} has {mine[name]!r} on line {seen}",
                    line=number,
                    field=column,
                )
            mine[name] = value
            self.attribute_lines[annotator, name] = number

    def _judgment(
        self, row: dict[str, Any], number: int, item: int, annotator: str, order: list[int]
    ) -> AnnotatorJudgment:
        base = {"line": number, "item": item, "annotator": annotator}
        if self.kind == "rating":
            ratings = []
            for column in self.map.labels:
                label = _text(row, column, number, required=False)
                if label:
                    self.labels[column].add(label)
                    ratings.append((column, label))
            if not ratings:
                field_name = self.map.labels[0] if self.map.labels else "labels"
                raise ImportFileError("no rating on this row", line=number, field=field_name)
            return AnnotatorJudgment(**base, ratings=tuple(ratings))
        if self.kind == "pairwise":
            choice, scale = self._choice(row, number)
            if order == [1, 0]:  # this row shows the item's responses the other way round
                choice = FLIP.get(choice, choice)
                scale = 9 - scale if scale is not None else None
            return AnnotatorJudgment(**base, choice=choice, scale=scale)
        ranks = self._ranks(row, number, len(order))
        canonical = [0] * len(order)
        for shown, position in enumerate(order):
            canonical[position] = ranks[shown]
        return AnnotatorJudgment(**base, ranks=tuple(canonical))

    def _choice(self, row: dict[str, Any], number: int) -> tuple[str, int | None]:
        if self.map.chosen_rejected:
            return "a", None
        scale = None
        if self.map.scale:
            raw = _text(row, self.map.scale, number, required=not self.map.choice)
            if raw:
                if not raw.isdigit() or not 1 <= int(raw) <= 8:
                    raise ImportFileError(
                        "expected 1..8 (1 = A much better)", line=number, field=self.map.scale
                    )
                scale = int(raw)
        if not self.map.choice:
            return ("a" if scale is not None and scale <= 4 else "b"), scale
        raw = _text(row, self.map.choice, number)
        choice = self.map.choice_values.get(raw) or CHOICES.get(raw.lower())
        if choice is None:
            raise ImportFileError(
                f"{raw[:40]!r} is not a choice; use a, b, tie or both_bad (or 1, 2, "
                "response_a, model_a, ...), or say what it means in mapping.choice_values",
                line=number,
                field=self.map.choice,
            )
        if scale is not None and choice != ("a" if scale <= 4 else "b"):
            raise ImportFileError(
                f"scale {scale} does not fit choice {raw!r}", line=number, field=self.map.scale
            )
        return choice, scale

    def _ranks(self, row: dict[str, Any], number: int, size: int) -> list[int]:
        value = row.get(self.map.ranks)
        if isinstance(value, str):
            text = value.strip().strip("[]")
            value = [v.strip() for v in text.split(",")] if text else []
        ok = isinstance(value, list) and len(value) == size
        ranks = [int(v) if str(v).isdigit() else 0 for v in value] if ok else []
        if not ok or not all(1 <= r <= size for r in ranks):
            raise ImportFileError(
                f"expected {size} ranks between 1 and {size}", line=number, field=self.map.ranks
            )
        return ranks

    def finish(self, positive: str) -> AnnotatorData:
        for column, labels in self.labels.items():
            options = sorted(labels, key=_label_order)
            self.data.criteria[column] = options
            chosen = positive or next((o for o in options if o.lower() in POSITIVE), "")
            if chosen and chosen not in options:
                raise ImportFileError(
                    f"{chosen!r} is not among the labels of {column!r}", field="mapping.positive"
                )
            self.data.positive[column] = chosen
        return self.data


def _label_order(label: str) -> tuple[int, float, str]:
    """Numbers in numeric order first, then words alphabetically."""
    try:
        return 0, float(label), ""
    except ValueError:
        return 1, 0.0, label.lower()


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
