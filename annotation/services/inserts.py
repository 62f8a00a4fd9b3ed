"""INSERT of new rows on the labeling hot path, whose SQL is built once per process (issue 14).

Saving through the ORM builds and compiles the INSERT on every call: for the three rows of a
submit (reservation, judgment, ratings) that was a sixth of the labeler API's CPU. `insert_new`
writes the same columns with the same values as `Model.save()` / `bulk_create` (each field's
`pre_save`, so `auto_now_add` times are set, and `get_db_prep_save`, so JSON and datetimes are
adapted as the ORM adapts them) and sets the primary keys from RETURNING. Like `bulk_create` it
sends no signals and skips `save()` overrides: callers validate first (`full_clean`) and use it
only for models with neither (Reservation, Judgment with its project set, its detail rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Model

_sql: dict[tuple[type[Model], str, int], str] = {}


def _fields(model: type[Model]) -> list[Any]:
    return [f for f in model._meta.local_concrete_fields if f is not model._meta.pk]


def _statement(model: type[Model], rows: int) -> str:
    key = (model, connection.vendor, rows)
    sql = _sql.get(key)
    if sql is None:
        quote, fields = connection.ops.quote_name, _fields(model)
        columns = ", ".join(quote(f.column) for f in fields)
        values = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * rows)
        pk = quote(model._meta.pk.column)
        sql = _sql[key] = (
            f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {values} RETURNING {pk}"
        )
    return sql


def insert_new(objs: Sequence[Model]) -> None:
    """Insert unsaved instances of one model in one statement and give them their keys."""
    if not objs:
        return
    model = type(objs[0])
    fields = _fields(model)
    params = [
        field.get_db_prep_save(field.pre_save(obj, True), connection)
        for obj in objs
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(_statement(model, len(objs)), params)
        keys = cursor.fetchall()
    for obj, (pk,) in zip(objs, keys, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
