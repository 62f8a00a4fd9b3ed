"""Export files are written atomically: whole when the job succeeds, nothing when it fails."""

import errno
import json

import pytest

from annotation.models import ExportJob, JobStatus
from annotation.services import exports
from tests.annotation.services.test_exports import judge
from tests.factories import ProjectFactory, item_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def run_export(project, fmt="raw"):
    job = ExportJob.objects.create(project=project, format=fmt)
    exports.export_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def test_a_successful_export_leaves_exactly_its_file(media, labeler):
    project = ProjectFactory()
    judge(item_create(project), labeler, pairwise_choice="a")
    job = run_export(project)
    assert job.status == JobStatus.SUCCEEDED and job.rows_written == 1
    files = [p for p in media.rglob("*") if p.is_file()]
    assert files == [media / job.file.name]
    assert json.loads(files[0].read_text())["choice"] == "a"


def test_a_disk_error_fails_cleanly_and_leaves_nothing(media, labeler, monkeypatch):
    project = ProjectFactory()
    judge(item_create(project), labeler, pairwise_choice="a")
    real_rows = exports.export_rows

    def rows_then_disk_full(**kwargs):
        yield from real_rows(**kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(exports, "export_rows", rows_then_disk_full)
    job = run_export(project)  # no exception escapes: the job says why
    assert job.status == JobStatus.FAILED
    assert job.error == "could not write the export: No space left on device"
    assert not job.file
    assert [p for p in media.rglob("*") if p.is_file()] == []


def test_an_unwritable_folder_fails_cleanly(media, labeler):
    project = ProjectFactory()
    (media / "exports").write_text("a file where the folder should be")
    job = run_export(project)
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("could not write the export: ")
    assert "OSError(" not in job.error and str(media) not in job.error
