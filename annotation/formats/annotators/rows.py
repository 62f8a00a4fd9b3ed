"""What a per-annotator file parses into (`AnnotatorData`: items, judgments, annotators'
attributes, rating criteria) and the parser that builds it row by row (`_Parser`).

Rows about the same item are grouped by item id (or, without one, by the prompt and responses);
the first row fixes the item's texts and response order (a later row showing them the other way
round has its choice, scale or ranks mapped to the first order), and a later row whose texts
differ is an error. Each annotator judges an item at most once, and keeps one value per
attribute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from annotation.formats.annotators.mapping import Mapping, attribute_name
from annotation.formats.annotators.table import _text
from annotation.formats.base import (
    ImportFileError,
    ParsedCompletion,
    ParsedItem,
    ParsedTurn,
    parse_messages,
)


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
