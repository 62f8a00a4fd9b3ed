"""What the REST views of the training side share: a page of a list, a create service's result
as 201 (its Django ValidationError as the 400 body: field -> messages, or non_field_errors when
the error names no field), and a cancel service's refusal as 409."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

Output = Callable[..., serializers.BaseSerializer]


def service_errors(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(
        exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    )


def paginated(request: Request, view: APIView, rows: QuerySet[Any], output: Output) -> Response:
    """One page (?limit=&offset=) of `rows`, serialized, by the view's `pagination_class`
    (which also documents the page envelope in the schema, config/schema.py)."""
    paginator = getattr(view, "pagination_class", LimitOffsetPagination)()
    page = paginator.paginate_queryset(rows, request, view=view)
    return paginator.get_paginated_response(output(page, many=True).data)


def created(create: Callable[..., Any], output: Output, **arguments: Any) -> Response:
    """Call a create service: 201 with what it made, or 400 with its ValidationError."""
    try:
        made = create(**arguments)
    except DjangoValidationError as exc:
        raise service_errors(exc) from exc
    return Response(output(made).data, status=status.HTTP_201_CREATED)


def cancelled(cancel: Callable[..., Any], output: Output, **arguments: Any) -> Response:
    """Call a cancel service: 200 with the job, or 409 when it has already ended."""
    try:
        job = cancel(**arguments)
    except DjangoValidationError as exc:
        return Response({"detail": exc.messages[0]}, status=status.HTTP_409_CONFLICT)
    return Response(output(job).data)
