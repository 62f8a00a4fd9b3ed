"""Housekeeping writes: fail the training runs and generation jobs whose worker is lost.

A worker killed mid-job cannot say so. Two sweeps, for both kinds of job alike:
- `jobs_fail_stale`: a running job whose heartbeat is older than CHORUS_TRAINING_STALE_SECONDS
  (or that has no heartbeat at all and started, or was dispatched or created, longer ago than
  that) is failed "worker lost: no heartbeat since ...". This is also what finds a job whose
  worker came back under a new hostname (a new container, say): no one beats for it any more,
  whatever the hostname, so it goes stale like any other. It runs periodically from Celery beat
  (`training.tasks.sweep_lost_workers_task`, every CHORUS_SWEEP_SECONDS) and when a worker
  starts; never from a page or API read. The worker writes a heartbeat every few seconds while
  a job's child process runs, even while it loads a model.
- `jobs_fail_orphaned`: a worker starting under a hostname fails the jobs that hostname had: it
  has just (re)started, so they are dead.

Each job is failed with a conditional UPDATE (still running, same heartbeat), so a job that
beats meanwhile is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from config.dispatch import sweep_queued
from training.models import ConstitutionJob, GenerationJob, RunStatus, TrainingRun, WorkerJob

logger = logging.getLogger(__name__)

JOB_MODELS: tuple[type[WorkerJob], ...] = (TrainingRun, GenerationJob, ConstitutionJob)


def _since(job: WorkerJob) -> str:
    beat = job.heartbeat_at or job.started_at or job.dispatched_at or job.created_at
    return f"{beat:%Y-%m-%d %H:%M:%S} UTC" if beat else "it started"


def _fail_lost(jobs: QuerySet[WorkerJob], reason: Callable[[WorkerJob], str]) -> int:
    now, failed = timezone.now(), 0
    for job in jobs.filter(status=RunStatus.RUNNING):
        failed += jobs.model.objects.filter(
            pk=job.pk, status=RunStatus.RUNNING, heartbeat_at=job.heartbeat_at
        ).update(status=RunStatus.FAILED, error=reason(job), finished_at=now)
    if failed:
        what = jobs.model._meta.verbose_name_plural
        logger.warning("marked %d %s failed: worker lost", failed, what)
    return failed


def runs_fail_stale() -> int:
    """Fail running runs whose worker has not been heard from in CHORUS_TRAINING_STALE_SECONDS."""
    return _fail_stale(TrainingRun.objects.all())


def generation_jobs_fail_stale() -> int:
    """Fail running jobs whose worker has not been heard from in CHORUS_TRAINING_STALE_SECONDS."""
    return _fail_stale(GenerationJob.objects.all())


def _fail_stale(jobs: QuerySet[WorkerJob]) -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.CHORUS_TRAINING_STALE_SECONDS)
    never_beat = Q(heartbeat_at__isnull=True) & (
        Q(started_at__lt=cutoff)
        | Q(started_at__isnull=True, dispatched_at__lt=cutoff)
        | Q(started_at__isnull=True, dispatched_at__isnull=True, created_at__lt=cutoff)
    )
    return _fail_lost(
        jobs.filter(Q(heartbeat_at__lt=cutoff) | never_beat),
        lambda j: f"worker lost: no heartbeat since {_since(j)} (worker {j.worker_hostname}).",
    )


def jobs_fail_stale() -> int:
    """The sweeps of stale heartbeats (runs, generation and constitution jobs): how many were
    failed."""
    stale = _fail_stale(ConstitutionJob.objects.all())
    return runs_fail_stale() + generation_jobs_fail_stale() + stale


def jobs_fail_orphaned(*, hostname: str) -> int:
    """Fail the runs and jobs a worker of this hostname had: it has just (re)started."""
    return sum(
        _fail_lost(
            model.objects.filter(worker_hostname=hostname),
            lambda j: f"worker lost: {hostname} restarted; no heartbeat since {_since(j)}.",
        )
        for model in JOB_MODELS
    )


def jobs_sweep_queued() -> dict[str, int]:
    """Runs and generation jobs still queued: re-dispatch a lost message, or fail after too long."""
    from training.tasks import constitution_job_task, generation_job_task, training_run_task

    total = {"redispatched": 0, "failed": 0}
    for model, task in (
        (TrainingRun, training_run_task),
        (GenerationJob, generation_job_task),
        (ConstitutionJob, constitution_job_task),
    ):
        for key, value in sweep_queued(model, task).items():
            total[key] += value
    return total
