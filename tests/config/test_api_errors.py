"""Bad input to the API is a 400 naming the field and changes nothing, never a 500 (issue 10,
item 3): model and database validation errors are translated in one place (config/api.py),
and JSON bodies are parsed with depth and size limits."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from annotation.models import Criterion, LabelerGroup, Project
from annotation.services.queue import reservation_next
from tests.factories import item_create

pytestmark = pytest.mark.django_db

PROJECT = {"name": "p", "kind": "pairwise", "guidelines": "Be kind."}


def _post(client, url, payload):
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return client.post(url, body, content_type="application/json")


def test_a_duplicate_project_name_is_a_400_on_name(as_persona):
    client = as_persona("researcher")
    assert _post(client, "/api/projects/", PROJECT).status_code == 201
    response = _post(client, "/api/projects/", PROJECT)
    assert response.status_code == 400
    assert "name" in response.json()
    assert Project.objects.count() == 1


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"ranking_size": 3}, "ranking_size"),  # a pair has two responses
        ({"criteria": [{"bogus": 1}]}, "criteria"),
        ({"criteria": [{"name": "honesty", "scale_min": 7, "scale_max": 1}]}, "criteria"),
        ({"criteria": [{"name": "h"}, {"name": "h"}]}, "criteria"),
        ({"criteria": [{"name": "h", "scale_min": "x"}]}, "criteria"),
    ],
)
def test_a_bad_project_is_a_400_naming_the_field_and_creates_nothing(as_persona, extra, field):
    response = _post(as_persona("researcher"), "/api/projects/", {**PROJECT, **extra})
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not Project.objects.exists() and not Criterion.objects.exists()


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"name": "g", "member_ids": [999999]}, "member_ids"),
        ({"name": "g", "rules": {"shoe_size": ["44"]}}, "rules"),
        ({"name": "g", "rules": {"region": ["x" * 101]}}, "rules"),
    ],
)
def test_a_bad_group_is_a_400_naming_the_field_and_creates_nothing(as_persona, payload, field):
    response = _post(as_persona("admin_user"), "/api/groups/", payload)
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not LabelerGroup.objects.exists()


def test_a_duplicate_group_name_is_a_400_on_name(as_persona):
    client = as_persona("admin_user")
    assert _post(client, "/api/groups/", {"name": "eu"}).status_code == 201
    response = _post(client, "/api/groups/", {"name": "eu"})
    assert response.status_code == 400 and "name" in response.json()
    assert LabelerGroup.objects.count() == 1


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_deeply_nested_json_is_a_400_everywhere(as_persona, project, labeler):
    item = item_create(project)
    reservation_next(labeler=labeler, project=project)
    for persona, url in [
        ("researcher", "/api/projects/"),
        ("admin_user", "/api/groups/"),
        ("labeler", f"/api/label/items/{item.pk}/judgments/"),
        ("researcher", "/api/training/runs/"),
    ]:
        for body in (_nested(100_000), '{"a":' * 50 + "1" + "}" * 50):
            response = _post(as_persona(persona), url, body)
            assert response.status_code == 400, (url, response.content[:200])
            assert "nested deeper than 32" in response.json()["detail"]


def test_json_nested_within_the_limit_is_parsed(as_persona):
    response = _post(as_persona("researcher"), "/api/projects/", {**PROJECT, "x": [[[[1]]]]})
    assert response.status_code == 201


@override_settings(CHORUS_MAX_JSON_BYTES=1000)
def test_a_json_body_over_the_size_limit_is_a_413(as_persona):
    response = _post(as_persona("researcher"), "/api/projects/", {**PROJECT, "guidelines": "x" * 2000})  # fmt: skip
    assert response.status_code == 413
    assert "1000 bytes" in response.json()["detail"]
    assert not Project.objects.exists()


def test_malformed_json_is_still_a_400(as_persona):
    response = _post(as_persona("researcher"), "/api/projects/", '{"name": ')
    assert response.status_code == 400 and "JSON parse error" in response.json()["detail"]


def test_huge_integers_in_json_are_a_400(as_persona):
    response = _post(as_persona("researcher"), "/api/projects/", '{"name": ' + "9" * 5000 + "}")
    assert response.status_code == 400
