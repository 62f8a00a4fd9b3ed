"""OpenAPI schema generation (drf-spectacular) that matches what the API really answers.

Every operation documents, besides its own responses, the error answers the API-wide machinery
can give it (config/api.py, DRF's permissions and throttles, the database-outage middleware):

- 400 (a field -> messages object, or {"detail"} for unparseable input) on every operation;
- 401 and 403 ({"detail"}) where authentication is required;
- 404 where the path names an object (hidden objects are 404s too);
- 409 on writes (the object's state forbids it: already judged, already finished, ...);
- 413 on writes that take a body (CHORUS_MAX_JSON_BYTES);
- 429 where a throttle applies; 503 everywhere (a dependency is down).

List operations of views with a `pagination_class` are documented with its envelope
({count, next, previous, results}) and its `limit`/`offset` parameters (drf-spectacular does
that itself once the view names its paginator).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework.permissions import AllowAny

DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "required": ["detail"],
}
FIELD_ERRORS = {
    "type": "object",
    "description": "Field name (or non_field_errors) -> messages; or {detail} when the request "
    "could not be parsed at all.",
    "additionalProperties": True,
}
ERRORS: dict[str, tuple[str, dict[str, Any]]] = {
    "400": ("Bad input: the fields named are wrong; nothing changed.", FIELD_ERRORS),
    "401": ("Not signed in (token or session).", DETAIL),
    "403": ("Signed in without the role this needs, or not signed in.", DETAIL),
    "404": ("No such object, or not one this user may see.", DETAIL),
    "409": ("The object's state forbids this now; nothing changed.", DETAIL),
    "413": ("Request body too large.", DETAIL),
    "429": ("Too many requests; retry after the Retry-After header's seconds.", DETAIL),
    "503": ("A dependency (database, broker) is unavailable; retry later.", DETAIL),
}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


class AutoSchema(SpectacularAutoSchema):
    def _error_codes(self) -> list[str]:
        codes = ["400"]
        if not all(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            codes += ["401", "403"]
        if "{" in self.path:
            codes.append("404")
        if self.method in WRITES:
            codes += ["409", "413"]
        if self.view.get_throttles():
            codes.append("429")
        codes.append("503")
        return codes

    def _get_response_bodies(self, direction: Any = "response") -> Any:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            if code not in responses:
                description, schema = ERRORS[code]
                responses[code] = {
                    "description": description,
                    "content": {"application/json": {"schema": schema}},
                }
        return responses
