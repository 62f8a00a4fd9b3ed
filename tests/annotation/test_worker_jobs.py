"""Import and export jobs run by a real Celery worker on the real broker."""

import gzip
import json

import pytest

from annotation.models import ExportJob, ImportFormat, ImportJob, JobStatus
from annotation.services.exports import export_job_create
from tests.worker import wait_for_row

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_background_import_and_export_through_worker(
    celery_worker_process, project, researcher, settings, tmp_path
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotation.services.imports import import_job_create

    settings.CHORUS_IMPORT_INLINE_MAX_BYTES = 0  # force the background path
    rows = [
        {
            "chosen": f"\n\nHuman: q{i}?\n\nAssistant: good {i}",
            "rejected": f"\n\nHuman: q{i}?\n\nAssistant: bad {i}",
        }
        for i in range(50)
    ]
    payload = gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode())
    job = import_job_create(
        project=project,
        fmt=ImportFormat.HH_RLHF,
        upload=SimpleUploadedFile("hh.jsonl.gz", payload),
        created_by=researcher,
    )
    assert job.status == JobStatus.QUEUED
    ended = [JobStatus.SUCCEEDED, JobStatus.FAILED]
    done = wait_for_row(ImportJob, job.pk, celery_worker_process, status__in=ended)
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.items_created == 50 and done.judgments_created == 50

    export = export_job_create(project=project, fmt="trl", created_by=researcher)
    finished = wait_for_row(ExportJob, export.pk, celery_worker_process, status=JobStatus.SUCCEEDED)
    with finished.file.open("rb") as handle:
        lines = handle.read().decode().splitlines()
    assert len(lines) == 50
    assert json.loads(lines[0])["chosen"][0]["content"].startswith("good")
