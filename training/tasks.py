"""Celery tasks of the training side: thin, take ids, call one service, never retried blindly.

- `training_run_task`, `generation_job_task` and `constitution_job_task` run on a worker of settings.CHORUS_TRAINING_QUEUE
  (CELERY_TASK_ROUTES sends `training.tasks.*` there: they load models and want the GPU), acked
  late, one at a time per worker process. If their worker dies mid-job the message is not run
  again blindly: the services only claim a queued job, and the lost job is failed by the sweep.
- `sweep_lost_workers_task` fails runs and jobs whose worker stopped beating (services/sweeps.py);
  Celery beat runs it every CHORUS_SWEEP_SECONDS (config/celery.py), on the default queue.
- `reply_task` streams a live reply on a worker of settings.CHORUS_INFERENCE_QUEUE (a threads
  pool that keeps its models loaded: services/streaming.py); `sweep_replies_task` (beat) fails
  replies whose worker went silent.
- When a worker starts, the jobs and replies its hostname had are failed, and so are stale ones.

The services import these tasks inside functions (to enqueue on commit), and these tasks import
the services inside functions: the one lazy tasks <-> services import.
"""

from typing import Any

from celery import shared_task
from celery.signals import worker_ready


@shared_task(bind=True, acks_late=True, ignore_result=True)
def training_run_task(self: Any, run_id: int) -> None:
    from training.services.runs import run_execute

    run_execute(run_id=run_id, hostname=self.request.hostname or "")


@shared_task(bind=True, acks_late=True, ignore_result=True)
def generation_job_task(self: Any, job_id: int) -> None:
    from training.services.generation import generation_job_execute

    generation_job_execute(job_id=job_id, hostname=self.request.hostname or "")


@shared_task(bind=True, acks_late=True, ignore_result=True)
def constitution_job_task(self: Any, job_id: int) -> None:
    from training.services.constitutions import constitution_job_execute

    constitution_job_execute(job_id=job_id, hostname=self.request.hostname or "")


@shared_task(ignore_result=True)
def sweep_lost_workers_task() -> int:
    from training.services.sweeps import jobs_fail_stale

    return jobs_fail_stale()


@shared_task(ignore_result=True)
def sweep_queued_task() -> dict[str, int]:
    """Celery beat: re-dispatch or fail runs and generation jobs whose message was lost."""
    from training.services.sweeps import jobs_sweep_queued

    return jobs_sweep_queued()


@shared_task(bind=True, ignore_result=True)
def reply_task(self: Any, reply_id: str) -> None:
    """Stream one live reply (settings.CHORUS_INFERENCE_QUEUE; acked on receipt: a reply whose
    worker dies is failed by its stale heartbeat, never streamed again)."""
    from training.services.streaming import reply_execute

    reply_execute(reply_id=str(reply_id), hostname=self.request.hostname or "")


@shared_task(ignore_result=True)
def sweep_replies_task() -> int:
    """Celery beat: fail live replies whose inference worker went silent."""
    from training.services.inference import replies_fail_stale

    return replies_fail_stale()


@worker_ready.connect
def _fail_jobs_of_lost_workers(sender: Any = None, **kwargs: Any) -> None:
    from training.services.inference import replies_fail_orphaned
    from training.services.sweeps import jobs_fail_orphaned, jobs_fail_stale

    hostname = getattr(sender, "hostname", "") or ""
    jobs_fail_orphaned(hostname=hostname)
    jobs_fail_stale()
    replies_fail_orphaned(hostname=hostname)
    _warm_up_inference(sender)


def _warm_up_inference(consumer: Any) -> None:
    """A worker of the inference queue loads its libraries and models before it takes replies
    (this runs before it says "ready")."""
    from django.conf import settings

    queues = getattr(getattr(consumer, "app", None), "amqp", None)
    names = set(getattr(getattr(queues, "queues", None), "consume_from", None) or ())
    if settings.CHORUS_INFERENCE_QUEUE in names:
        from training.services.streaming import inference_warm_up

        inference_warm_up()


@shared_task(bind=True, acks_late=True, ignore_result=True)
def demo_evaluation_task(self: Any) -> None:
    """`make run`'s demo: train the demo runs still queued, then build the evaluation project
    (training/services/demo.py), after the runs' own messages on the training queue."""
    from training.services.demo import demo_base_model, demo_evaluation_build

    demo_evaluation_build(base_model=demo_base_model(), hostname=self.request.hostname or "")
