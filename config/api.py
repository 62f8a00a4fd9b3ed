"""API-wide plumbing for DRF: bad input is a 4xx naming the field, never a 500 (issue 10, item 3).

- `exception_handler` translates model validation errors (`full_clean`, services) and database
  integrity errors into 400s with field errors, in one place, for every API view.
- `LimitedJSONParser` refuses JSON bodies larger than CHORUS_MAX_JSON_BYTES (413) or nested
  deeper than CHORUS_MAX_JSON_DEPTH (400) before decoding them, so no view, serializer or
  renderer ever recurses on attacker-chosen depth.
- `page_not_found` (handler404) answers unknown /api/ URLs with JSON, not the HTML 404 page.
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.parsers import BaseParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.utils.json import strict_constant
from rest_framework.views import exception_handler as drf_exception_handler

# A JSON string literal (escapes included); brackets inside one do not nest.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in `text` (strings skipped), without parsing."""
    depth = deepest = 0
    for char in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


class LimitedJSONParser(BaseParser):
    """DRF's JSON parser with a size and a depth limit, checked before decoding."""

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.CHORUS_MAX_JSON_BYTES
        max_depth = settings.CHORUS_MAX_JSON_DEPTH
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"JSON body larger than {limit} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(raw, encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        if json_depth(text) > max_depth:
            raise exceptions.ParseError(f"JSON nested deeper than {max_depth}.")
        try:
            return json.loads(text, parse_constant=strict_constant)
        except (ValueError, RecursionError) as exc:  # ValueError: also ints over 4300 digits
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None


def _integrity_detail(exc: IntegrityError) -> dict[str, list[str]]:
    message = str(exc).lower()
    field = api_settings.NON_FIELD_ERRORS_KEY
    if "unique" in message or "duplicate" in message:
        text = "This conflicts with an existing record (it must be unique)."
    elif "foreign key" in message:
        text = "This refers to a record that does not exist."
    else:
        text = "This breaks a rule of the stored data."
    return {field: [text]}


def _validation_detail(exc: DjangoValidationError) -> Any:
    detail = as_serializer_error(exc)  # {"__all__": ...} for model-wide errors
    if NON_FIELD_ERRORS in detail:
        detail[api_settings.NON_FIELD_ERRORS_KEY] = detail.pop(NON_FIELD_ERRORS)
    return detail


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, after turning model/database validation errors into 400s."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_validation_detail(exc))
    elif isinstance(exc, IntegrityError):
        exc = exceptions.ValidationError(_integrity_detail(exc))
    return drf_exception_handler(exc, context)


class ApiDocsPermission(BasePermission):
    """The OpenAPI schema and Swagger UI: signed-in users, or anyone if CHORUS_PUBLIC_API_DOCS."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(settings.CHORUS_PUBLIC_API_DOCS or request.user.is_authenticated)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 404 handler: JSON under /api/ (like every other API error), Django's page elsewhere."""
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)  # type: ignore[arg-type]
