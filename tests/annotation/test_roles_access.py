"""Access per role for every foundation view and endpoint."""

import pytest
from django.urls import reverse

from tests.conftest import PERSONAS
from tests.factories import item_create

pytestmark = pytest.mark.django_db

# (url name, kwargs builder, {persona: expected status})
RESEARCH = {"researcher": 200, "admin_user": 200, "labeler": 404, "other_labeler": 404, "outsider": 404, "anonymous": 302}
ADMIN_ONLY = {"researcher": 404, "admin_user": 200, "labeler": 404, "other_labeler": 404, "outsider": 404, "anonymous": 302}


@pytest.mark.parametrize("persona", PERSONAS)
def test_project_detail_page(as_persona, project, persona):
    response = as_persona(persona).get(reverse("annotation:project_detail", args=[project.pk]))
    assert response.status_code == RESEARCH[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_labeler_list_page_is_admin_only(as_persona, persona, labeler):
    response = as_persona(persona).get(reverse("annotation:labeler_list"))
    assert response.status_code == ADMIN_ONLY[persona]
    if persona == "admin_user":
        assert b"18-29" in response.content and b"lara" in response.content


@pytest.mark.parametrize("persona", PERSONAS)
def test_project_list_page(as_persona, project, persona):
    response = as_persona(persona).get(reverse("annotation:project_list"))
    expected = {"researcher": 200, "admin_user": 200, "labeler": 302, "other_labeler": 302, "outsider": 403, "anonymous": 302}
    assert response.status_code == expected[persona]


API_RESEARCH = {"researcher": 200, "admin_user": 200, "labeler": 403, "other_labeler": 403, "outsider": 403, "anonymous": 403}


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_project_list(as_persona, project, persona):
    response = as_persona(persona).get("/api/projects/")
    expected = {**API_RESEARCH, "labeler": 200, "other_labeler": 200, "outsider": 200}
    assert response.status_code == expected[persona]
    if persona == "outsider":
        assert response.json() == []


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_project_detail_hides_stats_from_labelers(as_persona, project, persona):
    response = as_persona(persona).get(f"/api/projects/{project.pk}/")
    expected = {**API_RESEARCH, "labeler": 200, "other_labeler": 200, "outsider": 404}
    assert response.status_code == expected[persona]
    if persona in ("labeler", "other_labeler"):
        assert "stats" not in response.json()


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_labelers_admin_only(as_persona, persona, labeler):
    response = as_persona(persona).get("/api/labelers/")
    expected = {**API_RESEARCH, "researcher": 403}
    assert response.status_code == expected[persona]
    if persona == "admin_user":
        assert response.json()[0]["attributes"]["age_range"] == "18-29"


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_group_create_admin_only(as_persona, persona):
    response = as_persona(persona).post(
        "/api/groups/", {"name": f"young-{persona}", "rules": {"age_range": ["18-29"]}}, content_type="application/json"
    )
    expected = {"admin_user": 201, "researcher": 403, "labeler": 403, "other_labeler": 403, "outsider": 403, "anonymous": 403}
    assert response.status_code == expected[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_export_stream(as_persona, project, persona):
    item_create(project)
    response = as_persona(persona).get(f"/api/projects/{project.pk}/export-stream/?format=raw")
    assert response.status_code == API_RESEARCH[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_project_create(as_persona, persona):
    response = as_persona(persona).post(
        "/api/projects/", {"name": f"P-{persona}", "kind": "pairwise", "guidelines": "Be kind."}, content_type="application/json"
    )
    expected = {**API_RESEARCH, "researcher": 201, "admin_user": 201}
    assert response.status_code == expected[persona]


def test_schema_and_docs_served(as_persona):
    client = as_persona("researcher")
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"cdn" not in docs.content.lower()
