"""The submit body of the labeler API, read by hand (issue 14: the DRF input serializer was a
fifth of the submit's CPU).

`submit_values` accepts only bodies that the serializer (`JudgmentCreateApi.JudgmentCreateInput`,
which still describes the request in the OpenAPI schema) would accept with the same values: JSON
objects whose fields have exactly the expected JSON types. Anything else, bad input included, is
answered None and the caller runs the serializer, so every 400 names its field exactly as before.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from annotation.models import FlagKind, PairwiseChoice

_CHOICES = frozenset(
    [*(str(n) for n in range(1, 9)), PairwiseChoice.TIE.value, PairwiseChoice.BOTH_BAD.value]
)
_FLAGS = frozenset(FlagKind.values)
_TEXTS = ("demonstration", "rationale")
_OPTIONAL_INTS = ("guideline_version",)


class _Unsure(Exception):
    """The body is not plainly valid: leave it to the serializer."""


def _int(value: Any, low: int | None = None, high: int | None = None) -> int:
    if type(value) is not int or (low is not None and not low <= value <= (high or value)):
        raise _Unsure
    return value


def _text(value: Any) -> str:
    if type(value) is not str or "\x00" in value:
        raise _Unsure
    try:
        value.encode("utf-8")  # refuses lone surrogates, as DRF's CharField does
    except UnicodeEncodeError:
        raise _Unsure from None
    return value


def _entries(value: Any) -> list[dict[str, Any]]:
    if type(value) is not list or any(type(entry) is not dict for entry in value):
        raise _Unsure
    return value


def _read(data: dict[str, Any]) -> dict[str, Any]:
    key = data.get("client_key")
    if type(key) is not str:
        raise _Unsure
    try:
        values: dict[str, Any] = {"client_key": uuid.UUID(key)}
    except ValueError:
        raise _Unsure from None
    if "choice" in data:
        choice = data["choice"]
        if choice is not None and (type(choice) not in (int, str) or str(choice) not in _CHOICES):
            raise _Unsure
        values["choice"] = None if choice is None else str(choice)
    if "ranks" in data:
        ranks = data["ranks"]
        if ranks is not None and (type(ranks) is not list or len(ranks) > 9):
            raise _Unsure
        values["ranks"] = None if ranks is None else [_int(rank) for rank in ranks]
    values["none_acceptable"] = _bool(data.get("none_acceptable", False))
    touched = data.get("ranking_touched")
    values["ranking_touched"] = None if touched is None else _bool(touched)
    for name in _TEXTS:
        values[name] = _text(data.get(name, ""))
    values["ratings"] = [
        {"criterion": _int(r.get("criterion")), "response": _int(r.get("response"), 1, 9),
         "value": _int(r.get("value"))}
        for r in _entries(data.get("ratings", []))
    ]  # fmt: skip
    values["flags"] = [
        {"response": _int(f.get("response"), 1, 9), "flag": _flag(f.get("flag"))}
        for f in _entries(data.get("flags", []))
    ]
    if "seconds_spent" in data:
        values["seconds_spent"] = _seconds(data["seconds_spent"])
    for name in _OPTIONAL_INTS:
        if name in data:
            values[name] = None if data[name] is None else _int(data[name])
    return values


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        raise _Unsure
    return value


def _flag(value: Any) -> str:
    if type(value) is not str or value not in _FLAGS:
        raise _Unsure
    return value


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if type(value) not in (int, float) or not math.isfinite(value):
        raise _Unsure
    return float(value)


def submit_values(data: Any) -> dict[str, Any] | None:
    """The serializer's validated data for a plainly valid JSON body, else None."""
    if type(data) is not dict:
        return None
    try:
        return _read(data)
    except _Unsure:
        return None
