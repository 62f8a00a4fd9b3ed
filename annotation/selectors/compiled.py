"""ORM queries compiled once per process and run again with other ids.

The labeling hot path checks project access on every request with the one access rule
(`selectors.projects.labeler_access_q`): a dozen nested `Exists`, whose building and compiling
through the ORM cost about ten times the statement itself (issue 14: 55 % of the API's CPU).
The rule's SQL depends only on the ids it is given, never on data, so `compiled` builds the
query twice with two pairs of sentinel ids, learns which parameters are the ids, and keeps the
SQL: later calls only fill in the parameters. The rule stays written once, in the ORM.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection
from django.db.models import QuerySet

# Ids no row has, one pair per argument: a parameter equal to the first of a pair in one build
# and to the second in the other is that argument's slot; one equal in both is a constant.
_SENTINELS = ((-918_273_645, -918_273_646), (-827_364_519, -827_364_518))

Template = tuple[str, list[tuple[str, Any]]]  # SQL, parameters: ("const", value) or ("arg", i)
_templates: dict[tuple[str, str], Template] = {}


def _learn(build: Callable[..., QuerySet[Any]], arity: int) -> Template:
    pairs = _SENTINELS[:arity]
    sql1, params1 = build(*(first for first, _ in pairs)).query.sql_with_params()
    sql2, params2 = build(*(second for _, second in pairs)).query.sql_with_params()
    if sql1 != sql2 or len(params1) != len(params2):
        raise ValueError("The query's SQL depends on its ids: it cannot be compiled once.")
    slots: list[tuple[str, Any]] = []
    for p1, p2 in zip(params1, params2, strict=True):
        if p1 == p2:
            slots.append(("const", p1))
        elif (p1, p2) in pairs:
            slots.append(("arg", pairs.index((p1, p2))))
        else:
            raise ValueError(f"Parameter {p1!r}/{p2!r} is neither constant nor an id.")
    return sql1, slots


def compiled(name: str, build: Callable[..., QuerySet[Any]], *ids: int) -> tuple[str, list[Any]]:
    """The SQL of `build(*ids)` (one or two integer ids) and its parameters, compiled on first
    use in this process."""
    if len(ids) > len(_SENTINELS):
        raise ValueError(f"At most {len(_SENTINELS)} ids.")
    key = (name, connection.vendor)
    template = _templates.get(key)
    if template is None:
        template = _templates[key] = _learn(build, len(ids))
    sql, slots = template
    return sql, [ids[value] if kind == "arg" else value for kind, value in slots]


_converters: dict[tuple[Any, str], list[tuple[Any, list[Any]]]] = {}


def _field_converters(model: Any) -> list[tuple[Any, list[Any]]]:
    """Per concrete field: its column and the ORM's converters for it, found once per process."""
    key = (model, connection.alias)
    found = _converters.get(key)
    if found is None:
        found = []
        for field in model._meta.concrete_fields:
            col = field.get_col(model._meta.db_table)
            found.append(
                (col, connection.ops.get_db_converters(col) + col.get_db_converters(connection))
            )
        _converters[key] = found
    return found


def model_from_row(model: Any, values: Sequence[Any]) -> Any:
    """A model instance from its concrete fields' column values (in field order) as a cursor
    returned them, converted as the ORM would (JSON, SQLite's datetimes)."""
    converted = []
    for (col, converters), value in zip(_field_converters(model), values, strict=True):
        for converter in converters:
            value = converter(value, col, connection)
        converted.append(value)
    return model.from_db(connection.alias, None, converted)
