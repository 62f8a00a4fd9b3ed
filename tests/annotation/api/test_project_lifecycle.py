"""The lifecycle API: PATCH and DELETE a project, POST archive/unarchive/clone; access per
persona, fields named on bad input, and the OpenAPI schema."""

from __future__ import annotations

import pytest

from annotation.models import Project
from annotation.services.labelers import labeler_group_create
from tests.access import PERSONAS, RESEARCH_API, STAFF, staff_answer
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db
JSON = "application/json"


@pytest.mark.parametrize("persona", PERSONAS)
def test_patch_access(as_persona, project, persona):
    response = as_persona(persona).patch(
        f"/api/projects/{project.pk}/", {"overlap_target": 5}, content_type=JSON
    )
    assert response.status_code == RESEARCH_API[persona]
    assert (Project.objects.get(pk=project.pk).overlap_target == 5) == (persona in STAFF)


@pytest.mark.parametrize("persona", PERSONAS)
def test_delete_access(as_persona, project, persona):
    response = as_persona(persona).delete(
        f"/api/projects/{project.pk}/", {"confirm_name": project.name}, content_type=JSON
    )
    assert response.status_code == staff_answer(RESEARCH_API, 204)[persona]
    assert Project.objects.filter(pk=project.pk).exists() == (persona not in STAFF)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("action", ["archive", "unarchive"])
def test_archive_access(as_persona, project, persona, action):
    response = as_persona(persona).post(f"/api/projects/{project.pk}/{action}/")
    assert response.status_code == RESEARCH_API[persona]
    if persona in STAFF:
        assert (response.json()["archived_at"] is not None) == (action == "archive")


@pytest.mark.parametrize("persona", PERSONAS)
def test_clone_access(as_persona, project, persona):
    response = as_persona(persona).post(
        f"/api/projects/{project.pk}/clone/", {"name": "Cloned"}, content_type=JSON
    )
    assert response.status_code == staff_answer(RESEARCH_API, 201)[persona]
    assert Project.objects.filter(name="Cloned").exists() == (persona in STAFF)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"overlap_target": 0}, "overlap_target"),
        ({"gold_threshold": 2}, "gold_threshold"),
        ({"criteria": [{"name": "X", "scale_min": 5, "scale_max": 1}]}, "criteria"),
        ({"quotas": [{"group": 424242, "min_per_item": 1}]}, "quotas"),
        ({"name": "taken"}, "name"),
    ],
)
def test_patch_bad_input_names_the_field(as_persona, project, payload, field):
    ProjectFactory(name="taken")
    response = as_persona("researcher").patch(
        f"/api/projects/{project.pk}/", payload, content_type=JSON
    )
    assert response.status_code == 400 and field in response.json()


def test_patch_quotas_and_rubric(as_persona, project):
    group = labeler_group_create(name="Young", rules={"age_range": ["18-29"]})
    client = as_persona("researcher")
    payload = {
        "quotas": [{"group": group.pk, "min_per_item": 2}],
        "criteria": [{"name": "Safe", "options": ["Yes", "No"], "positive_option": "Yes"}],
    }
    response = client.patch(f"/api/projects/{project.pk}/", payload, content_type=JSON)
    assert response.status_code == 200 and response.json()["rubric_version"] == 2
    assert list(project.quotas.values_list("min_per_item", flat=True)) == [2]
    too_low = client.patch(f"/api/projects/{project.pk}/", {"overlap_target": 1}, content_type=JSON)
    assert too_low.status_code == 400 and "overlap_target" in too_low.json()


def test_delete_needs_the_name(as_persona, project):
    client = as_persona("researcher")
    wrong = client.delete(f"/api/projects/{project.pk}/", {"confirm_name": "x"}, content_type=JSON)
    assert wrong.status_code == 400 and "confirm_name" in wrong.json()
    missing = client.delete(f"/api/projects/{project.pk}/")
    assert missing.status_code == 400 and "confirm_name" in missing.json()
    assert Project.objects.filter(pk=project.pk).exists()


def test_clone_name_taken_is_400(as_persona, project):
    response = as_persona("researcher").post(
        f"/api/projects/{project.pk}/clone/", {"name": project.name}, content_type=JSON
    )
    assert response.status_code == 400 and "name" in response.json()


def test_archived_project_is_404_for_labelers_in_the_api(as_persona, project):
    as_persona("researcher").post(f"/api/projects/{project.pk}/archive/")
    assert as_persona("labeler").get(f"/api/projects/{project.pk}/").status_code == 404
    listed = as_persona("labeler").get("/api/projects/").json()
    assert project.pk not in [p["id"] for p in listed]
    assert as_persona("researcher").get(f"/api/projects/{project.pk}/").status_code == 200


def test_schema_documents_the_lifecycle(as_persona):
    schema = as_persona("researcher").get("/api/schema/").content.decode()
    for path in ("/api/projects/{project_id}/archive/", "/api/projects/{project_id}/clone/"):
        assert path in schema
    assert "ProjectUpdateInput" in schema and "confirm_name" in schema
