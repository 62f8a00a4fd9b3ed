"""Writes that steer generation jobs: cancel, fail those whose worker is lost, queue scoring.

- `generation_job_cancel`: a queued job is cancelled at once; a running one is marked
  cancel-requested and its child process stops after its batch (services_loop_child). Items
  are made only when every model has finished, so a job stopped while generating keeps none.
- `generation_jobs_fail_stale` / `generation_jobs_fail_orphaned`: like training runs
  (services.runs_fail_stale), a running job whose heartbeat is older than
  CHORUS_TRAINING_STALE_SECONDS is failed "worker lost: ..." when jobs are listed or viewed and
  when a worker starts. The worker writes a heartbeat every few seconds while the job's child
  process runs, even while it loads a model.
- `scoring_job_create`: a background job (purpose SCORING) in which a succeeded reward run
  scores the completions a project already has; the scores show as "reward model vs people".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from annotation.models import Completion, Project
from training.models import GenerationJob, GenerationPurpose, RunKind, RunStatus, TrainingRun

logger = logging.getLogger(__name__)


def generation_job_cancel(*, job: GenerationJob) -> GenerationJob:
    """A queued job is cancelled at once; a running one stops at its next batch."""
    jobs = GenerationJob.objects.filter(pk=job.pk)
    cancelled = jobs.filter(status=RunStatus.QUEUED).update(
        status=RunStatus.CANCELLED, cancel_requested=True, finished_at=timezone.now()
    )
    if not cancelled and not jobs.filter(status=RunStatus.RUNNING).update(cancel_requested=True):
        raise ValidationError("The job has already ended.")
    job.refresh_from_db()
    return job


def _since(job: GenerationJob) -> str:
    beat = job.heartbeat_at or job.started_at
    return f"{beat:%Y-%m-%d %H:%M:%S} UTC" if beat else "it started"


def _fail_lost(jobs: QuerySet[GenerationJob], reason: Callable[[GenerationJob], str]) -> int:
    now, failed = timezone.now(), 0
    for job in jobs.filter(status=RunStatus.RUNNING):
        failed += GenerationJob.objects.filter(
            pk=job.pk, status=RunStatus.RUNNING, heartbeat_at=job.heartbeat_at
        ).update(status=RunStatus.FAILED, error=reason(job), finished_at=now)
    if failed:
        logger.warning("marked %d generation job(s) failed: worker lost", failed)
    return failed


def generation_jobs_fail_stale() -> int:
    """Fail running jobs whose worker has not been heard from in CHORUS_TRAINING_STALE_SECONDS."""
    cutoff = timezone.now() - timedelta(seconds=settings.CHORUS_TRAINING_STALE_SECONDS)
    return _fail_lost(
        GenerationJob.objects.filter(heartbeat_at__lt=cutoff),
        lambda j: f"worker lost: no heartbeat since {_since(j)} (worker {j.worker_hostname}).",
    )


def generation_jobs_fail_orphaned(*, hostname: str) -> int:
    """Fail the jobs a worker of this hostname had: it has just (re)started, so they are dead."""
    return _fail_lost(
        GenerationJob.objects.filter(worker_hostname=hostname),
        lambda j: f"worker lost: {hostname} restarted; no heartbeat since {_since(j)}.",
    )


def scoring_job_create(
    *, created_by: Any, project: Project, reward_run: TrainingRun
) -> GenerationJob:
    """Queue a job in which `reward_run` scores the project's completions it has not scored."""
    if reward_run.kind != RunKind.REWARD or reward_run.status != RunStatus.SUCCEEDED:
        raise ValidationError({"reward_run": "Choose a succeeded reward-model run."})
    completions = Completion.objects.filter(prompt__project=project)
    if not completions.exists():
        raise ValidationError({"project": "The project has no completions to score."})
    job = GenerationJob(
        project=project, purpose=GenerationPurpose.SCORING, sources=[], samples_per_prompt=1,
        reward_run=reward_run, created_by=created_by,
        total=completions.exclude(reward_scores__reward_run=reward_run).count(),
    )  # fmt: skip
    job.full_clean(exclude=["sources", "prompt_ids", "sampling"])  # empty: nothing is sampled
    job.save()
    from training.tasks_loop import generation_job_task

    transaction.on_commit(lambda: generation_job_task.delay(job.pk))
    return job
