"""The report job on a real Celery worker process and the real broker."""

import pytest

from annotation.models import JobStatus, ProjectReport
from annotation.services.reports import project_report_request
from tests.annotation.report_data import two_groups_project
from tests.worker import wait_for_row

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_report_job_runs_on_the_worker(celery_worker_process, project, admin_user):
    data = two_groups_project(project)
    report = project_report_request(project=project, requested_by=admin_user)
    assert report.status == JobStatus.QUEUED
    ended = [JobStatus.SUCCEEDED, JobStatus.FAILED]
    done = wait_for_row(ProjectReport, report.pk, celery_worker_process, status__in=ended)
    assert done.status == JobStatus.SUCCEEDED, done.error
    found = {r["item_id"] for r in done.payload["contested"]["items"] if r["significant"]}
    assert found == data.contested and done.judgments == 160
    assert "report_compute_task" in celery_worker_process.log
