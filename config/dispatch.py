"""Queue background jobs so that none is lost with a broker message (issue 10, item 4).

One way to hand a job row to the broker, for every kind of job (runs, generation jobs and
evaluations, imports, exports, reports):

- `dispatch_on_commit(task, job)`: after the row's transaction commits, publish the task (no
  blind publish retries) and stamp `dispatched_at`. If the broker refuses, the row is marked
  failed with the reason ("broker unavailable: ...") and `BrokerUnavailable` is raised, which
  the API turns into a 503 JSON answer with Retry-After and config/middleware.py into a 503 page.
- `sweep_queued(model, task)`: run periodically from Celery beat. A row still queued
  CHORUS_REDISPATCH_SECONDS after it was last dispatched (its message lost, or the publish
  never happened) is published again; one queued longer than CHORUS_QUEUED_GIVE_UP_SECONDS
  since it was created is failed with the reason. Workers only claim a queued row (queued ->
  running in one conditional UPDATE), so a message delivered twice runs the job once.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import Task
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from rest_framework.exceptions import APIException

logger = logging.getLogger(__name__)

QUEUED, FAILED = "queued", "failed"


class BrokerUnavailable(APIException):
    status_code = 503
    default_detail = "The job queue is unavailable; nothing was queued. Try again shortly."
    default_code = "broker_unavailable"
    wait = 30  # DRF sends it as Retry-After


def _publish(task: Task, pk: int) -> None:
    """Publish once; raise on any broker error (no retry loop holding a request)."""
    task.apply_async(args=[pk], retry=False)


def _fields(model: type[models.Model]) -> set[str]:
    return {f.name for f in model._meta.get_fields()}


def _fail(model: type[models.Model], pk: int, reason: str) -> int:
    update: dict[str, Any] = {"status": FAILED, "error": reason}
    if "finished_at" in _fields(model):
        update["finished_at"] = timezone.now()
    return model._default_manager.filter(pk=pk, status=QUEUED).update(**update)


def dispatch_now(task: Task, job: models.Model) -> None:
    """Publish `task(job.pk)`; on success stamp dispatched_at, else fail the row and raise."""
    model, pk = type(job), job.pk
    try:
        _publish(task, pk)
    except Exception as exc:  # kombu OperationalError, OSError, redis errors ...
        reason = f"broker unavailable: {type(exc).__name__}: {str(exc)[:200]}"
        logger.warning("%s %s not queued: %s", model.__name__, pk, reason)
        _fail(model, pk, reason)
        raise BrokerUnavailable() from exc
    model._default_manager.filter(pk=pk).update(dispatched_at=timezone.now())


def dispatch_on_commit(task: Task, job: models.Model) -> None:
    """Publish `task(job.pk)` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: dispatch_now(task, job))


def sweep_queued(
    model: type[models.Model], task: Task, *, since_field: str = "created_at"
) -> dict[str, int]:
    """Re-dispatch rows whose message looks lost; fail those queued for too long."""
    now = timezone.now()
    give_up = now - timedelta(seconds=settings.CHORUS_QUEUED_GIVE_UP_SECONDS)
    redispatch = now - timedelta(seconds=settings.CHORUS_REDISPATCH_SECONDS)
    queued = model._default_manager.filter(status=QUEUED)
    failed = 0
    for pk, since in queued.filter(**{f"{since_field}__lt": give_up}).values_list(
        "pk", since_field
    ):
        failed += _fail(
            model,
            pk,
            f"never picked up by a worker: queued since {since:%Y-%m-%d %H:%M:%S} UTC "
            f"(more than {settings.CHORUS_QUEUED_GIVE_UP_SECONDS} s; is a worker running?)",
        )
    again = 0
    stale = queued.filter(
        models.Q(dispatched_at__lt=redispatch)
        | models.Q(dispatched_at__isnull=True, **{f"{since_field}__lt": redispatch})
    )
    for pk in stale.values_list("pk", flat=True):
        try:
            _publish(task, pk)
        except Exception as exc:
            logger.warning("re-dispatch of %s %s failed: %s", model.__name__, pk, exc)
            break  # the broker is down: try again at the next sweep
        again += model._default_manager.filter(pk=pk, status=QUEUED).update(dispatched_at=now)
    if failed or again:
        logger.warning(
            "%s: re-dispatched %d, failed %d queued too long", model.__name__, again, failed
        )
    return {"redispatched": again, "failed": failed}
