"""Download names and the favicon (issue 13, defects): export files are named by the project's
slug, format and job id, with no spaces or parentheses; every page links an icon and
/favicon.ico answers instead of a 404."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotation.models import ExportJob
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def test_export_downloads_are_named_by_the_project_slug(settings, tmp_path, as_persona, researcher):
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "e.jsonl").write_text("{}\n")
    project = ProjectFactory(name="HH harmlessness (pairwise) / v2", created_by=researcher)
    job = ExportJob.objects.create(
        project=project, format="trl", status="succeeded", file="exports/e.jsonl"
    )
    client = as_persona("researcher")
    wanted = f'attachment; filename="hh-harmlessness-pairwise-v2-trl-{job.pk}.jsonl"'
    for url in (
        reverse("annotation:export_download", args=[job.pk]),
        f"/api/exports/{job.pk}/download/",
    ):
        response = client.get(url)
        assert response["Content-Disposition"] == wanted
        b"".join(response.streaming_content)


def test_pages_link_an_icon_and_favicon_ico_redirects_to_it(client):
    page = client.get(reverse("login")).content.decode()
    assert 'rel="icon"' in page and "favicon.svg" in page
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")
