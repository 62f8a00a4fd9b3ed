"""Celery task of the loop (generation jobs): thin, takes an id, calls one service.

Named under `training.tasks.` so settings.CELERY_TASK_ROUTES sends it to the training queue
(it loads models and wants the GPU); imported by the worker through CELERY_IMPORTS. Acked late,
never retried blindly: `generation_job_execute` only claims a queued job. When a worker starts,
the jobs of lost workers are failed (services_loop_control).
"""

from typing import Any

from celery import shared_task
from celery.signals import worker_ready


@shared_task(
    name="training.tasks.generation_job_task", bind=True, acks_late=True, ignore_result=True
)
def generation_job_task(self: Any, job_id: int) -> None:
    from training.services_loop import generation_job_execute

    generation_job_execute(job_id=job_id, hostname=self.request.hostname or "")


@worker_ready.connect
def _fail_jobs_of_lost_workers(sender: Any = None, **kwargs: Any) -> None:
    from training.services_loop_control import (
        generation_jobs_fail_orphaned,
        generation_jobs_fail_stale,
    )

    generation_jobs_fail_orphaned(hostname=getattr(sender, "hostname", "") or "")
    generation_jobs_fail_stale()
