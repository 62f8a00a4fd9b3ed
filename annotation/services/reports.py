"""The agreement report job: request a recomputation, run it, cache the payload.

`project_report_request` enqueues the Celery job once; `project_report_compute` runs
`selectors.reports.report_payload` (the loading and annotation.reports, no writes) and stores
the result in `ProjectReport.payload`. Pages and the API only read that cache.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotation.models import JobStatus, Project, ProjectReport
from annotation.selectors.reports import report_payload
from annotation.services.items import item_stats_refresh
from config.dispatch import dispatch_on_commit

logger = logging.getLogger(__name__)
STALE_AFTER = timedelta(hours=1)  # a running job older than this may be requested again


def _pending_for() -> timedelta:
    """A queued request blocks a new one only as long as its message may still be on its way."""
    return timedelta(seconds=settings.CHORUS_REDISPATCH_SECONDS)


def project_report_request(*, project: Project, requested_by: Any) -> ProjectReport:
    """Queue a recomputation (once: a pending request is not queued twice)."""
    from annotation.tasks import report_compute_task

    now = timezone.now()
    with transaction.atomic():
        report, created = ProjectReport.objects.select_for_update().get_or_create(project=project)
        pending = report.status in (JobStatus.QUEUED, JobStatus.RUNNING)
        if (
            not created
            and pending
            and report.requested_at
            and now - report.requested_at
            < (STALE_AFTER if report.status == JobStatus.RUNNING else _pending_for())
        ):
            return report
        report.status, report.requested_by, report.requested_at = (
            JobStatus.QUEUED,
            requested_by,
            now,
        )
        report.full_clean()
        report.save(update_fields=["status", "requested_by", "requested_at"])
        dispatch_on_commit(report_compute_task, report)
    return report


def project_report_compute(*, report_id: int) -> None:
    """Compute a project's report and store it; a failure keeps the previous payload."""
    report = ProjectReport.objects.select_related("project").get(pk=report_id)
    # queued -> running in one conditional UPDATE: a duplicate message computes it once.
    if not ProjectReport.objects.filter(pk=report_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, error=""
    ):
        logger.warning("report %s is not queued; not computing it again", report_id)
        return
    start = time.perf_counter()
    try:
        payload, judgments = report_payload(report.project)
        item_stats_refresh(project=report.project)  # the item browser's agreement column
    except Exception as exc:
        logger.exception("report %s failed", report_id)
        ProjectReport.objects.filter(pk=report_id).update(status=JobStatus.FAILED, error=repr(exc))
        raise
    ProjectReport.objects.filter(pk=report_id).update(
        status=JobStatus.SUCCEEDED,
        payload=payload,
        judgments=judgments,
        computed_at=timezone.now(),
        seconds=time.perf_counter() - start,
    )
