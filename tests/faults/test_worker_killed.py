"""kill -9 the worker mid-run: the run is failed with the reason within 60 s, by the periodic
sweep (Celery beat), without anyone reading the run.

Two workers as in a deployment with a separate training worker: one on the default queue with
beat (the sweeps), one on the training queue that is killed with its pool child; the trainer
subprocess dies with it (PR_SET_PDEATHSIG). Nobody restarts the killed worker, and the test only
polls the database: no page or API read of the run happens.
"""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from tests.faults.conftest import create_run
from tests.worker import celery_worker, wait_for_row
from training.models import RunStatus, TrainingRun

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

STALE = 12  # seconds without a heartbeat (the worker beats every 5 s while a run's child runs)


def test_a_worker_killed_mid_run_leaves_a_failed_run_with_the_reason_within_60_s(
    api, judged, tiny_base_model, tmp_path
):
    # A sweep every 5 s: three sweeps per tick stay well within what the embedded broker (it
    # polls once a second) delivers to a one-process worker, so no backlog builds up.
    sweeper_env = {"CHORUS_SWEEP_SECONDS": "5", "CHORUS_TRAINING_STALE_SECONDS": str(STALE)}
    beat = ["--beat", "--schedule", str(tmp_path / "celerybeat-schedule")]
    with celery_worker(queues="default", args=beat, **sweeper_env) as sweeper:
        with celery_worker(queues="training") as trainer_worker:
            response = create_run(api, judged, tiny_base_model, max_steps=100_000)
            assert response.status_code == 201, response.content
            run_id = response.json()["id"]
            wait_for_row(TrainingRun, run_id, trainer_worker, timeout=120, step__gte=1)
            hostname = TrainingRun.objects.get(pk=run_id).worker_hostname
            worker = psutil.Process(trainer_worker.proc.pid)
            children = worker.children(recursive=True)
            for process in [worker, *worker.children()]:  # the worker and its pool child
                os.kill(process.pid, signal.SIGKILL)
            killed = time.monotonic()
            trainer_worker.proc.wait(timeout=10)
            gone, alive = psutil.wait_procs(children, timeout=15)
            assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
            assert TrainingRun.objects.get(pk=run_id).status == RunStatus.RUNNING
        run = wait_for_row(TrainingRun, run_id, sweeper, timeout=60, status=RunStatus.FAILED)
        took = time.monotonic() - killed
    assert took < 60, took
    assert run.error.startswith("worker lost: no heartbeat since ") and hostname in run.error
    assert run.finished_at and run.step >= 1
