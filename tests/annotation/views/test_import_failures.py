"""A failed import (issue 13, part 8): it says how far the checks got and which line failed, the
form keeps the chosen format and mapping, and the failure is said once, not on every page load."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from annotation.models import ImportJob, Item, JobStatus
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

GOOD = json.dumps({"prompt": "Say hi", "completions": [{"text": "hi"}, {"text": "hello"}]})
BAD_ON_15 = "\n".join([GOOD] * 14 + [json.dumps({"prompt": "no replies"})]) + "\n"


def _post(client, project, fmt: str = "chorus", mapping: str = ""):  # noqa: ANN001, ANN202
    return client.post(
        reverse("annotation:import_create", args=[project.pk]),
        {
            "import-format": fmt,
            "import-file": SimpleUploadedFile("bad.jsonl", BAD_ON_15.encode()),
            "import-mapping": mapping,
        },
    )


def test_a_failure_on_line_15_counts_14_lines_checked_and_names_the_line(as_persona):
    project = ProjectFactory(kind="pairwise")
    response = _post(as_persona("researcher"), project)
    assert response.status_code == 400
    job = ImportJob.objects.get(project=project)
    assert job.status == JobStatus.FAILED and job.lines_done == 14
    assert "line 15" in job.error and not Item.objects.filter(project=project).exists()
    page = response.content.decode()
    assert "14 lines passed the checks" in page and "0 lines checked" not in page
    detail = as_persona("researcher").get(reverse("annotation:import_detail", args=[job.pk]))
    assert "14 lines passed the checks" in detail.content.decode()


def test_the_form_keeps_the_chosen_format_and_mapping_after_a_failure(as_persona):
    project = ProjectFactory(kind="pairwise")
    response = _post(as_persona("researcher"), project, fmt="hh_rlhf")  # wrong format: fails
    form = response.context["import_form"]
    assert response.status_code == 400 and form["format"].value() == "hh_rlhf"
    assert "Nothing was imported" in str(form.errors["file"])
    invalid = _post(as_persona("researcher"), project, fmt="annotators", mapping="{not json")
    form = invalid.context["import_form"]
    assert invalid.status_code == 400 and "mapping" in form.errors
    assert form["format"].value() == "annotators" and form["mapping"].value() == "{not json"
    assert 'value="annotators" selected' in invalid.content.decode()


def test_a_failed_job_is_listed_quietly_and_only_for_a_day(as_persona):
    project = ProjectFactory(kind="pairwise")
    client = as_persona("researcher")
    _post(client, project)
    url = reverse("annotation:project_detail", args=[project.pk])
    page = client.get(url).content.decode()
    assert "line 15" in page and 'role="alert"' not in page  # listed, not announced again
    ImportJob.objects.update(finished_at=timezone.now() - timedelta(days=2))
    assert "line 15" not in client.get(url).content.decode()
    job = ImportJob.objects.get()
    assert (
        "line 15" in client.get(reverse("annotation:import_detail", args=[job.pk])).content.decode()
    )
