"""Issue 10 (4): imports, exports and reports are claimed queued -> running in one conditional
UPDATE, so a duplicate message (the beat sweep re-dispatches a job whose message looks lost)
cannot run a job twice. Before, each read the row, saw `queued`, and then set `running`
unconditionally: a second worker claiming it in between ran it again."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.db.models.signals import post_init

from annotation.models import ExportJob, ImportJob, Item, JobStatus, ProjectReport
from annotation.services.exports import export_run
from annotation.services.imports import import_run
from annotation.services.reports import project_report_compute
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def _claimed_by_another_worker_once_read(model):  # noqa: ANN001, ANN202
    """Between this worker's read of the row and its write, another worker claims the job."""
    done: list[int] = []

    def claim(sender, instance, **kwargs):  # noqa: ANN001, ANN003, ANN202
        if instance.pk and not done:
            done.append(instance.pk)
            model.objects.filter(pk=instance.pk).update(status=JobStatus.RUNNING)

    post_init.connect(claim, sender=model, weak=False)
    return lambda: post_init.disconnect(claim, sender=model)


def test_an_import_claimed_meanwhile_is_not_run_again(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    project = ProjectFactory()
    job = ImportJob.objects.create(project=project, format="trl", original_name="a.jsonl")
    job.file.save("a.jsonl", ContentFile(b'{"prompt": "hi", "chosen": "a", "rejected": "b"}\n'))
    undo = _claimed_by_another_worker_once_read(ImportJob)
    try:
        import_run(job_id=job.pk)
    finally:
        undo()
    assert not Item.objects.filter(project=project).exists()
    assert ImportJob.objects.get(pk=job.pk).status == JobStatus.RUNNING  # the other one's


def test_an_export_claimed_meanwhile_is_not_run_again(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    job = ExportJob.objects.create(project=ProjectFactory(), format="raw")
    undo = _claimed_by_another_worker_once_read(ExportJob)
    try:
        export_run(job_id=job.pk)
    finally:
        undo()
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and not job.file and not list(tmp_path.rglob("*.jsonl"))


def test_a_duplicate_report_message_computes_once():
    report = ProjectReport.objects.create(project=ProjectFactory(), status=JobStatus.QUEUED)
    project_report_compute(report_id=report.pk)
    first = ProjectReport.objects.get(pk=report.pk)
    assert first.status == JobStatus.SUCCEEDED
    project_report_compute(report_id=report.pk)  # the re-dispatched duplicate
    assert ProjectReport.objects.get(pk=report.pk).computed_at == first.computed_at
