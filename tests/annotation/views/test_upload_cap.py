"""Uploads over CHORUS_MAX_UPLOAD_BYTES are stopped while they stream in: 413, no job."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotation.models import ImportJob, Item
from tests.annotation.services.test_imports import hh_row

pytestmark = pytest.mark.django_db


def upload(rows=200):
    body = "".join(json.dumps(hh_row(i)) + "\n" for i in range(rows)).encode()
    return SimpleUploadedFile("data.jsonl", body)


def test_api_refuses_an_upload_over_the_cap_with_413(as_persona, project, settings):
    settings.CHORUS_MAX_UPLOAD_BYTES = 5000
    client = as_persona("researcher")
    response = client.post(
        f"/api/projects/{project.pk}/imports/", {"format": "hh_rlhf", "file": upload()}
    )
    assert response.status_code == 413
    assert response.json() == {
        "file": ["the file is larger than 5000 bytes (CHORUS_MAX_UPLOAD_BYTES)"]
    }
    assert not ImportJob.objects.exists() and not Item.objects.exists()


def test_api_accepts_an_upload_under_the_cap(as_persona, project, settings):
    settings.CHORUS_MAX_UPLOAD_BYTES = 5000
    response = as_persona("researcher").post(
        f"/api/projects/{project.pk}/imports/", {"format": "hh_rlhf", "file": upload(rows=3)}
    )
    assert response.status_code == 201 and response.json()["items_created"] == 3


def test_page_refuses_an_upload_over_the_cap_with_413(as_persona, project, settings):
    settings.CHORUS_MAX_UPLOAD_BYTES = 5000
    response = as_persona("researcher").post(
        reverse("annotation:import_create", args=[project.pk]),
        {"import-format": "hh_rlhf", "import-file": upload()},
    )
    assert response.status_code == 413
    assert b"the file is larger than 5000 bytes" in response.content
    assert not ImportJob.objects.exists() and not Item.objects.exists()


def test_the_import_form_says_the_cap(as_persona, project, settings):
    settings.CHORUS_MAX_UPLOAD_BYTES = 5 * 2**20
    page = as_persona("researcher").get(reverse("annotation:project_detail", args=[project.pk]))
    assert "at most 5.0\xa0MB" in page.content.decode()
