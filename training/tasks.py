"""Celery tasks of the training side: thin, take ids, call one service, never retried blindly.

`training_run_task` is routed to settings.CHORUS_TRAINING_QUEUE (config/settings.py), acked
late, one at a time per worker process. If its worker dies mid-run the message is not run
again blindly: `run_execute` only claims a queued run, and the lost run is failed by the
heartbeat sweep, which also runs here whenever a worker starts.
"""

from typing import Any

from celery import shared_task
from celery.signals import worker_ready


@shared_task(bind=True, acks_late=True, ignore_result=True)
def training_run_task(self: Any, run_id: int) -> None:
    from training.services import run_execute

    run_execute(run_id=run_id, hostname=self.request.hostname or "")


@worker_ready.connect
def _fail_runs_of_lost_workers(sender: Any = None, **kwargs: Any) -> None:
    from training.services import runs_fail_orphaned, runs_fail_stale

    runs_fail_orphaned(hostname=getattr(sender, "hostname", "") or "")
    runs_fail_stale()
