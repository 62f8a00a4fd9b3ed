"""Uploaded import files are deleted after CHORUS_UPLOAD_RETENTION_DAYS, by Celery beat."""

import os
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from annotation.models import ImportJob, JobStatus
from annotation.services.imports import import_uploads_purge
from annotation.tasks import import_uploads_purge_task
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    settings.CHORUS_UPLOAD_RETENTION_DAYS = 30
    return tmp_path


def job_with_file(project, days_old, status=JobStatus.SUCCEEDED):
    job = ImportJob(project=project, format="chorus", original_name="x.jsonl", status=status)
    job.file.save("x.jsonl", ContentFile(b"{}\n"))
    ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(days=days_old))
    return ImportJob.objects.get(pk=job.pk)


def test_old_finished_uploads_go_new_and_active_ones_stay(media):
    project = ProjectFactory()
    old = job_with_file(project, 31)
    old_failed = job_with_file(project, 40, status=JobStatus.FAILED)
    old_running = job_with_file(project, 40, status=JobStatus.RUNNING)
    new = job_with_file(project, 29)
    paths = {job.pk: media / job.file.name for job in (old, old_failed, old_running, new)}
    assert import_uploads_purge() == 2
    assert not paths[old.pk].exists() and not paths[old_failed.pk].exists()
    assert paths[old_running.pk].exists() and paths[new.pk].exists()
    old.refresh_from_db()
    assert not old.file and old.status == JobStatus.SUCCEEDED  # the record stays
    assert import_uploads_purge() == 0  # idempotent


def test_orphaned_old_files_go_too(media):
    orphan = media / "imports" / "2020" / "01" / "gone.jsonl"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("{}\n")
    past = (timezone.now() - timedelta(days=31)).timestamp()
    os.utime(orphan, (past, past))
    recent = orphan.with_name("recent.jsonl")
    recent.write_text("{}\n")
    assert import_uploads_purge() == 1
    assert not orphan.exists() and recent.exists()


def test_zero_days_keeps_everything(media, settings):
    settings.CHORUS_UPLOAD_RETENTION_DAYS = 0
    job = job_with_file(ProjectFactory(), 1000)
    assert import_uploads_purge() == 0
    assert (media / job.file.name).exists()


def test_the_beat_schedule_runs_the_purge_daily(media):
    from config.celery import PURGE_UPLOADS_TASK, app

    entry = app.conf.beat_schedule["purge-old-uploads"]
    assert entry["task"] == PURGE_UPLOADS_TASK == import_uploads_purge_task.name
    assert entry["schedule"] == 24 * 3600.0
    job = job_with_file(ProjectFactory(), 31)
    import_uploads_purge_task.apply()
    assert not (media / job.file.name).exists()
