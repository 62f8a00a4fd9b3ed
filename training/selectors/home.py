"""What training adds to the home dashboard (annotation/home.py): recent runs for researchers,
failed jobs and lost workers for admins. Registered in training/apps.py; the home view calls
these only for the roles that may see them. A fixed number of queries each.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from annotation.home import Alert, HomeRun
from training.models import GenerationJob, RunStatus, TrainingRun, WorkerJob

RECENT = timedelta(days=7)  # how far back failed jobs count as alerts


def home_recent_runs(limit: int) -> list[HomeRun]:
    """The newest training runs (one query)."""
    return [
        HomeRun(
            title=f"#{run.pk} {run.name}".strip() or f"#{run.pk}",
            kind=run.get_kind_display(),
            status=run.status,
            status_label=run.get_status_display(),
            progress_percent=run.progress_percent,
            created_at=run.created_at,
            url=reverse("training:run_detail", args=[run.pk]),
        )
        for run in TrainingRun.objects.order_by("-created_at", "-pk")[:limit]
    ]


def home_alerts() -> list[Alert]:
    """Runs and generation jobs that failed in the last week, and running ones whose worker has
    not sent a heartbeat for CHORUS_TRAINING_STALE_SECONDS (the beat sweep fails them; one still
    listed here means the sweep is not running). Four queries."""
    since = timezone.now() - RECENT
    stale = timezone.now() - timedelta(seconds=settings.CHORUS_TRAINING_STALE_SECONDS)
    alerts: list[Alert] = []
    for model in (TrainingRun, GenerationJob):
        failed = model.objects.filter(status=RunStatus.FAILED, finished_at__gte=since)
        alerts += [_alert("error", job, "failed", _first_line(job.error)) for job in failed[:5]]
        lost = model.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=stale)
        alerts += [
            _alert(
                "error",
                job,
                "has a stale worker",
                f"No heartbeat from {job.worker_hostname or 'its worker'} since {timezone.localtime(job.heartbeat_at):%Y-%m-%d %H:%M}.",
            )
            for job in lost[:5]
        ]
    return alerts


def _alert(level: str, job: WorkerJob, what: str, detail: str) -> Alert:
    if isinstance(job, TrainingRun):
        return Alert(
            level,
            f"Training run #{job.pk} {what}",
            detail,
            reverse("training:run_detail", args=[job.pk]),
        )
    return Alert(level, f"{job} {what}", detail, reverse("training:loop_job", args=[job.pk]))


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "No error message."
    return line[:200]
