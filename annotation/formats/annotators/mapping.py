"""Which column of a per-annotator file holds what: the `Mapping`, given (`mapping_parse`) or
detected from common column names (`detect`), and annotator attribute names (`attribute_name`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from typing import Any

from annotation.formats.base import ImportFileError

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
