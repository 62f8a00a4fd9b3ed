"""Access per role for the per-annotator import (API and page) and a project's external
labelers, whose attributes only admins see (issue 12, part 4)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotation.models import LabelerProfile
from tests.access import ADMIN_API, PERSONAS, RESEARCH_CREATE, RESEARCH_POST
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db
ROWS = b"item_id,context,response,rater_id,rater_gender,Q_overall\nc1,p,r,w1,Woman,Yes\nc1,p,r,w2,Man,No\n"


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_annotator_import(as_persona, persona):
    project = ProjectFactory(kind="rating")
    response = as_persona(persona).post(
        f"/api/projects/{project.pk}/imports/",
        {"format": "annotators", "file": SimpleUploadedFile("d.csv", ROWS), "mapping": "{}"},
    )
    assert response.status_code == RESEARCH_CREATE[persona]
    created = LabelerProfile.objects.filter(external_project=project).count()
    assert created == (2 if persona in ("researcher", "admin_user") else 0)


@pytest.mark.parametrize("persona", PERSONAS)
def test_annotator_import_page(as_persona, persona):
    project = ProjectFactory(kind="rating")
    response = as_persona(persona).post(
        reverse("annotation:import_create", args=[project.pk]),
        {
            "import-format": "annotators",
            "import-file": SimpleUploadedFile("d.csv", ROWS),
            "import-mapping": '{"annotator_id": "rater_id"}',
        },
    )
    assert response.status_code == RESEARCH_POST[persona]
    created = LabelerProfile.objects.filter(external_project=project).count()
    assert created == (2 if persona in ("researcher", "admin_user") else 0)


@pytest.mark.parametrize("persona", PERSONAS)
def test_external_labelers_and_their_attributes_are_admin_only(as_persona, admin_user, persona):
    project = ProjectFactory(kind="rating")
    as_persona("admin_user").post(
        f"/api/projects/{project.pk}/imports/",
        {"format": "annotators", "file": SimpleUploadedFile("d.csv", ROWS)},
    )
    response = as_persona(persona).get(f"/api/projects/{project.pk}/external-labelers/")
    assert response.status_code == ADMIN_API[persona]
    if response.status_code == 200:
        rows = response.json()
        assert [(r["annotator_id"], r["attributes"]) for r in rows] == [
            ("w1", {"gender": "Woman"}),
            ("w2", {"gender": "Man"}),
        ]
        assert {r["consent_source"] for r in rows} == {"dataset"}
        assert all(r["judgments"] == 1 and r["pseudonym"].startswith("L-") for r in rows)
    else:
        assert b"Woman" not in response.content


def test_external_labelers_of_a_missing_project_is_404_for_admins(as_persona):
    assert (
        as_persona("admin_user").get("/api/projects/999999/external-labelers/").status_code == 404
    )
