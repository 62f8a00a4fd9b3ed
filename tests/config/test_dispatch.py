"""Queued work is not lost with a broker message (issue 10, item 4).

Before: a job created while the broker was down committed its row and answered 500; a lost
message left the row queued forever; a report whose message was lost blocked recompute for an
hour. Now config/dispatch.py publishes on commit, fails the row with the reason and answers 503
when the broker refuses, and the beat sweep re-dispatches or fails queued jobs.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from annotation.models import ExportJob, JobStatus, ProjectReport
from annotation.services.dispatch import jobs_sweep_queued
from annotation.services.reports import project_report_request
from config import celery as celery_config
from config import dispatch


@pytest.fixture
def broker_down(monkeypatch):
    def refuse(task, pk):  # noqa: ANN001
        raise OperationalError("[Errno 111] Connection refused")

    monkeypatch.setattr(dispatch, "_publish", refuse)


@pytest.fixture
def published(monkeypatch):
    sent: list[tuple[str, int]] = []
    monkeypatch.setattr(dispatch, "_publish", lambda task, pk: sent.append((task.name, pk)))
    return sent


def test_broker_down_api_answers_503_json_and_keeps_no_queued_row(
    transactional_db, researcher, project, broker_down
):
    client = Client()
    client.force_login(researcher)
    url = reverse("api-export-create", args=[project.pk])
    response = client.post(url, {"format": "raw"}, content_type="application/json")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"]
    assert "job queue is unavailable" in response.json()["detail"]
    assert not ExportJob.objects.filter(status=JobStatus.QUEUED).exists()
    job = ExportJob.objects.get()
    assert job.status == JobStatus.FAILED and "broker unavailable" in job.error


def test_broker_down_html_form_answers_503_page(transactional_db, researcher, project, broker_down):
    client = Client()
    client.force_login(researcher)
    response = client.post(
        reverse("annotation:export_create", args=[project.pk]), {"export-format": "raw"}
    )
    assert response.status_code == 503
    assert b"unavailable" in response.content and response["Retry-After"]
    assert not ExportJob.objects.filter(status=JobStatus.QUEUED).exists()


def test_a_published_job_is_stamped_dispatched(transactional_db, researcher, project, published):
    client = Client()
    client.force_login(researcher)
    url = reverse("api-export-create", args=[project.pk])
    assert client.post(url, {"format": "raw"}, content_type="application/json").status_code == 201
    job = ExportJob.objects.get()
    assert published == [("annotation.tasks.export_run_task", job.pk)]
    assert job.dispatched_at is not None


def test_sweep_redispatches_lost_messages_and_fails_jobs_queued_too_long(
    db, settings, researcher, project, published
):
    settings.CHORUS_REDISPATCH_SECONDS, settings.CHORUS_QUEUED_GIVE_UP_SECONDS = 60, 3600
    now = timezone.now()
    fresh = ExportJob.objects.create(project=project, format="raw", dispatched_at=now)
    lost = ExportJob.objects.create(project=project, format="raw")
    ExportJob.objects.filter(pk=lost.pk).update(
        created_at=now - timedelta(seconds=120), dispatched_at=now - timedelta(seconds=120)
    )
    never = ExportJob.objects.create(project=project, format="raw")
    ExportJob.objects.filter(pk=never.pk).update(created_at=now - timedelta(hours=2))
    done = ExportJob.objects.create(project=project, format="raw", status=JobStatus.SUCCEEDED)
    ExportJob.objects.filter(pk=done.pk).update(created_at=now - timedelta(hours=2))

    assert jobs_sweep_queued() == {"redispatched": 1, "failed": 1}
    assert published == [("annotation.tasks.export_run_task", lost.pk)]
    lost.refresh_from_db(), never.refresh_from_db(), fresh.refresh_from_db()
    assert lost.status == JobStatus.QUEUED and lost.dispatched_at > now - timedelta(seconds=5)
    assert never.status == JobStatus.FAILED and "never picked up by a worker" in never.error
    assert fresh.status == JobStatus.QUEUED
    assert jobs_sweep_queued() == {"redispatched": 0, "failed": 0}  # nothing twice


def test_a_report_whose_message_was_lost_does_not_block_recompute_for_an_hour(
    db, settings, researcher, project, published
):
    settings.CHORUS_REDISPATCH_SECONDS = 60
    report = project_report_request(project=project, requested_by=researcher)
    ProjectReport.objects.filter(pk=report.pk).update(
        requested_at=timezone.now() - timedelta(minutes=5)
    )
    again = project_report_request(project=project, requested_by=researcher)
    assert again.requested_at > timezone.now() - timedelta(seconds=5)  # queued again


def test_beat_runs_the_queued_sweeps():
    app = celery_config.app
    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert set(celery_config.QUEUED_SWEEPS) <= scheduled
    assert celery_config.SWEEP_TASK in scheduled
