"""A training run's trainer as a child of the worker (training/worker.py), against a fake
trainer that speaks the CLI's JSON-lines protocol (no torch here): progress relayed throttled,
the result stored, a crash or a kill explained, cancel through the CANCEL file, the grace kill."""

from __future__ import annotations

import sys
import textwrap

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from training import worker
from training.models import RunMetric, RunStatus, TrainingRun
from training.services.runs import execute as run_services
from training.services.runs import run_execute

pytestmark = pytest.mark.django_db

FAKE_TRAINER = textwrap.dedent(
    """
    import json, os, sys, time
    mode, out = sys.argv[1], sys.argv[2]
    def emit(event, **data):
        print(json.dumps({"event": event, **data}), flush=True)
    def progress(step, total, **metrics):
        emit("progress", step=step, total_steps=total, epoch=step / total, metrics=metrics, phase="train", message="")
    if mode == "ok":
        for step in range(1, 51):
            progress(step, 50, **{"train/loss": 1.0 / step, "train/accuracy": step / 50})
        emit("result", output_dir=out, cancelled=False, steps=50, total_steps=50,
             metrics={"eval/accuracy": 0.75, "group_accuracy": {"young": 0.8, "senior": 0.7}})
    elif mode in ("cancel", "ignore_cancel"):
        step = 0
        while mode == "ignore_cancel" or not os.path.exists(os.path.join(out, "CANCEL")):
            step += 1
            progress(step, 10**6, **{"train/loss": 0.5})
            time.sleep(0.05)
        emit("result", output_dir=out, cancelled=True, steps=step, total_steps=10**6, metrics={})
    elif mode == "crash":
        progress(1, 10, **{"train/loss": 0.7})
        print("Traceback (most recent call last):\\nRuntimeError: CUDA out of memory", file=sys.stderr)
        emit("error", kind="internal", message="RuntimeError: CUDA out of memory")
        sys.exit(1)
    elif mode == "sigkill":
        progress(1, 10, **{"train/loss": 0.7})
        print("about to be killed", file=sys.stderr, flush=True)
        os.kill(os.getpid(), 9)
    """
)


@pytest.fixture
def fake_trainer(tmp_path, monkeypatch):
    """Make run_execute launch the fake trainer in `mode` instead of `python -m training.ml`."""
    script = tmp_path / "fake_trainer.py"
    script.write_text(FAKE_TRAINER)

    def use(mode: str) -> None:
        monkeypatch.setattr(
            run_services,
            "trainer_command",
            lambda run: [sys.executable, str(script), mode, str(run.run_dir)],
        )

    return use


def _execute(run: TrainingRun, hostname: str = "w@h") -> TrainingRun:
    """Execute the run in this thread as the worker `hostname` would; return it as stored."""
    run_execute(run_id=run.pk, hostname=hostname)
    run.refresh_from_db()
    return run


def test_execute_relays_progress_throttled_and_stores_the_result(make_run, fake_trainer):
    fake_trainer("ok")
    run = make_run()
    with CaptureQueriesContext(connection) as queries:
        run = _execute(run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert (run.step, run.total_steps, run.worker_hostname) == (50, 50, "w@h")
    assert run.final_metrics["group_accuracy"] == {"young": 0.8, "senior": 0.7}
    assert RunMetric.objects.filter(run=run, name="train/loss").count() == 50
    assert RunMetric.objects.get(run=run, name="train/loss", step=4).value == 0.25
    progress_writes = [
        q for q in queries.captured_queries if q["sql"].startswith('UPDATE "training_trainingrun"')
    ]
    assert len(progress_writes) < 10  # 50 events, a few writes


def test_execute_does_not_rerun_a_run_that_is_not_queued(make_run, fake_trainer):
    fake_trainer("crash")
    run = make_run()
    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, worker_hostname="first@h"
    )
    run = _execute(run, "second@h")  # a redelivered message
    assert run.status == RunStatus.RUNNING and run.worker_hostname == "first@h"
    assert not (run.run_dir / "trainer.log").exists()


def test_a_crash_fails_the_run_with_the_trainers_message_and_log(make_run, fake_trainer):
    fake_trainer("crash")
    run = make_run()
    run = _execute(run)
    assert run.status == RunStatus.FAILED
    assert run.error.startswith(
        "The trainer stopped (internal error): RuntimeError: CUDA out of memory"
    )
    assert "Last lines of trainer.log:\nTraceback" in run.error
    assert RunMetric.objects.filter(run=run).count() == 1  # what was reported is kept


def test_a_killed_trainer_fails_the_run_not_the_worker(make_run, fake_trainer):
    fake_trainer("sigkill")
    run = make_run()
    run = _execute(run)
    assert run.status == RunStatus.FAILED
    assert run.error.startswith("The trainer was killed by SIGKILL (out of memory?)")
    assert "about to be killed" in run.error


def test_cancel_request_reaches_the_trainer_through_the_cancel_file(make_run, fake_trainer):
    fake_trainer("cancel")
    run = make_run()
    TrainingRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    run = _execute(run)
    assert run.status == RunStatus.CANCELLED and run.error == ""
    assert (run.run_dir / "CANCEL").exists() and run.message.startswith("cancelled after")


def test_a_trainer_ignoring_cancel_is_killed_after_the_grace_period(
    make_run, fake_trainer, monkeypatch
):
    monkeypatch.setattr(worker, "CANCEL_GRACE_SECONDS", 0.5)
    fake_trainer("ignore_cancel")
    run = make_run()
    TrainingRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    run = _execute(run)
    assert run.status == RunStatus.CANCELLED
    assert run.error.startswith("The trainer was killed by SIGKILL")


def test_training_tasks_go_to_their_own_queue_acked_late(settings):
    from config.celery import app
    from training.tasks import training_run_task

    route = app.amqp.router.route({}, training_run_task.name, args=(1,), kwargs={})
    assert route["queue"].name == settings.CHORUS_TRAINING_QUEUE == "training"
    assert training_run_task.acks_late is True
    assert app.conf.worker_prefetch_multiplier == 1
