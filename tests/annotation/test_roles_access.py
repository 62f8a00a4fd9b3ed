"""Access per role for every foundation view and endpoint."""

import re

import pytest
from django.urls import reverse

from tests.access import (
    ADMIN_API,
    ADMIN_PAGE,
    PERSONAS,
    RESEARCH_API,
    RESEARCH_CREATE,
    RESEARCH_PAGE,
    RESEARCH_POST,
)
from tests.factories import item_create

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("persona", PERSONAS)
def test_project_detail_page(as_persona, project, persona):
    response = as_persona(persona).get(reverse("annotation:project_detail", args=[project.pk]))
    assert response.status_code == RESEARCH_PAGE[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_labeler_list_page_is_admin_only(as_persona, persona, labeler):
    response = as_persona(persona).get(reverse("annotation:labeler_list"))
    assert response.status_code == ADMIN_PAGE[persona]
    if persona == "admin_user":
        assert b"18-29" in response.content and b"lara" in response.content


@pytest.mark.parametrize("persona", PERSONAS)
def test_project_list_page(as_persona, project, persona):
    response = as_persona(persona).get(reverse("annotation:project_list"))
    expected = {**RESEARCH_PAGE, "labeler": 302, "other_labeler": 302, "outsider": 403}
    assert response.status_code == expected[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_project_list(as_persona, project, persona):
    response = as_persona(persona).get("/api/projects/")
    expected = {**RESEARCH_API, "labeler": 200, "other_labeler": 200, "outsider": 200}
    assert response.status_code == expected[persona]
    if persona == "outsider":
        assert response.json() == []


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_project_detail_hides_stats_from_labelers(as_persona, project, persona):
    response = as_persona(persona).get(f"/api/projects/{project.pk}/")
    expected = {**RESEARCH_API, "labeler": 200, "other_labeler": 200, "outsider": 404}
    assert response.status_code == expected[persona]
    if persona in ("labeler", "other_labeler"):
        assert "stats" not in response.json()


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_labelers_admin_only(as_persona, persona, labeler):
    response = as_persona(persona).get("/api/labelers/")
    assert response.status_code == ADMIN_API[persona]
    if persona == "admin_user":
        assert response.json()[0]["attributes"]["age_range"] == "18-29"


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_group_create_admin_only(as_persona, persona):
    response = as_persona(persona).post(
        "/api/groups/",
        {"name": f"young-{persona}", "rules": {"age_range": ["18-29"]}},
        content_type="application/json",
    )
    expected = {**ADMIN_API, "admin_user": 201}
    assert response.status_code == expected[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_export_stream(as_persona, project, persona):
    item_create(project)
    response = as_persona(persona).get(f"/api/projects/{project.pk}/export-stream/?format=raw")
    assert response.status_code == RESEARCH_API[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_project_create(as_persona, persona):
    response = as_persona(persona).post(
        "/api/projects/",
        {"name": f"P-{persona}", "kind": "pairwise", "guidelines": "Be kind."},
        content_type="application/json",
    )
    assert response.status_code == RESEARCH_CREATE[persona]


def test_schema_and_docs_served(as_persona):
    client = as_persona("researcher")
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    # Swagger UI's assets are served by this app (the sidecar), never from a CDN. (A bare "cdn"
    # substring check failed at random: the page carries a random CSRF token.)
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.content.decode())
    assert assets and all(u.startswith("/") and not u.startswith("//") for u in assets), assets


@pytest.mark.parametrize("persona", PERSONAS)
def test_export_create_and_guidelines_edit_pages(
    as_persona, project, persona, django_capture_on_commit_callbacks
):
    from annotation.models import ExportJob, GuidelineVersion

    client = as_persona(persona)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            reverse("annotation:export_create", args=[project.pk]), {"export-format": "trl"}
        )
    assert response.status_code == RESEARCH_POST[persona]
    response = client.post(
        reverse("annotation:guidelines_edit", args=[project.pk]), {"text": "v2 rules"}
    )
    assert response.status_code == RESEARCH_POST[persona]
    allowed = persona in ("researcher", "admin_user")
    assert ExportJob.objects.exists() == allowed
    assert GuidelineVersion.objects.filter(project=project, version=2).exists() == allowed


@pytest.mark.parametrize("persona", PERSONAS)
def test_import_create_page(as_persona, project, persona):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotation.models import Item

    row = b'{"chosen": "\\n\\nHuman: a\\n\\nAssistant: b", "rejected": "\\n\\nHuman: a\\n\\nAssistant: c"}\n'
    response = as_persona(persona).post(
        reverse("annotation:import_create", args=[project.pk]),
        {"import-format": "hh_rlhf", "import-file": SimpleUploadedFile("x.jsonl", row)},
    )
    assert response.status_code == RESEARCH_POST[persona]
    assert Item.objects.filter(project=project).exists() == (
        persona in ("researcher", "admin_user")
    )


@pytest.mark.parametrize("persona", PERSONAS)
def test_job_pages_and_downloads(as_persona, project, researcher, persona, tmp_path, settings):
    from annotation.models import ExportJob, ImportJob

    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "e.jsonl").write_text("{}\n")
    export = ExportJob.objects.create(
        project=project, format="trl", status="succeeded", file="exports/e.jsonl"
    )
    job = ImportJob.objects.create(
        project=project, format="trl", file="imports/x.jsonl", original_name="x.jsonl"
    )
    client = as_persona(persona)
    expected = RESEARCH_PAGE[persona]
    assert client.get(reverse("annotation:import_detail", args=[job.pk])).status_code == expected
    download = client.get(reverse("annotation:export_download", args=[export.pk]))
    assert download.status_code == expected
    if expected == 200:
        assert b"".join(download.streaming_content) == b"{}\n"
    api_expected = RESEARCH_API[persona]
    assert client.get(f"/api/imports/{job.pk}/").status_code == api_expected
    assert client.get(f"/api/exports/{export.pk}/").status_code == api_expected
    api_download = client.get(f"/api/exports/{export.pk}/download/")
    assert api_download.status_code == api_expected
    if api_expected == 200:
        b"".join(api_download.streaming_content)


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_export_and_import_create(
    as_persona, project, persona, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = as_persona(persona)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            f"/api/projects/{project.pk}/exports/",
            {"format": "raw"},
            content_type="application/json",
        )
    assert response.status_code == RESEARCH_CREATE[persona]
    row = b'{"prompt": "p", "chosen": "a", "rejected": "b"}\n'
    response = client.post(
        f"/api/projects/{project.pk}/imports/",
        {"format": "trl", "file": SimpleUploadedFile("t.jsonl", row)},
    )
    assert response.status_code == RESEARCH_CREATE[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_home_redirects_by_role(as_persona, persona):
    response = as_persona(persona).get(reverse("annotation:home"))
    assert response.status_code == 302
    target = {
        "labeler": "/label/",
        "other_labeler": "/label/",
        "researcher": "/projects/",
        "admin_user": "/projects/",
        "outsider": "/projects/",
    }
    assert response.url.startswith(target.get(persona, "/accounts/login/"))


def test_researcher_never_sees_attributes(as_persona, labeler):
    response = as_persona("researcher").get(reverse("annotation:project_list"))
    assert b"18-29" not in response.content


def test_import_without_file_says_why(as_persona, project):
    client = as_persona("researcher")
    response = client.post(
        reverse("annotation:import_create", args=[project.pk]),
        {"import-format": "trl"},
        follow=True,
    )
    assert b"Import not started: file: This field is required." in response.content
