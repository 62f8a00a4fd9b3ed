"""The OpenAPI schema matches what the API answers (issue 10, minor items): paginated lists are
documented as pages, every error status the API-wide machinery can give is documented; the
schema and Swagger UI need a signed-in user unless CHORUS_PUBLIC_API_DOCS; unknown /api/ URLs
answer JSON."""

from __future__ import annotations

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db

OPENAPI_JSON = "application/vnd.oai.openapi+json"


@pytest.fixture
def schema(as_persona):
    response = as_persona("researcher").get("/api/schema/", HTTP_ACCEPT=OPENAPI_JSON)
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
def test_the_docs_need_a_signed_in_user_by_default(as_persona, url):
    assert as_persona("anonymous").get(url).status_code in (401, 403)
    assert as_persona("labeler").get(url).status_code == 200
    with override_settings(CHORUS_PUBLIC_API_DOCS=True):
        assert as_persona("anonymous").get(url).status_code == 200


@pytest.mark.parametrize(
    "path", ["/api/training/runs/", "/api/training/generation-jobs/", "/api/training/evaluations/"]
)
def test_paginated_lists_are_documented_as_pages(schema, as_persona, path):
    operation = schema["paths"][path]["get"]
    body = operation["responses"]["200"]["content"]["application/json"]["schema"]
    ref = body["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][ref]["properties"]) >= {"count", "results"}
    assert {"limit", "offset"} <= {p["name"] for p in operation["parameters"]}
    answer = as_persona("researcher").get(path).json()
    assert set(answer) == {"count", "next", "previous", "results"}


def test_error_statuses_are_documented(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"400", "401", "403", "503"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if method == "post":
                assert {"409", "413"} <= codes, (method, path)


def test_unknown_api_urls_answer_json(as_persona):
    for persona in ("anonymous", "researcher"):
        response = as_persona(persona).get("/api/no-such-thing/")
        assert response.status_code == 404 and response.json() == {"detail": "Not found."}
    assert as_persona("researcher").get("/api/projects/-1/").json() == {"detail": "Not found."}
    page = as_persona("researcher").get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
