"""The lost-worker sweep runs from Celery beat, never from a read: a stale run or job is failed
by the periodic task while nobody looks at it, and pages and API reads leave it as it is."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.training.fixtures import finished_run
from training.models import RunStatus, TrainingRun
from training.services.sweeps import jobs_fail_orphaned, runs_fail_stale
from training.tasks import sweep_lost_workers_task

pytestmark = pytest.mark.django_db


def test_the_beat_schedule_runs_the_sweep_on_the_default_queue(settings):
    from config.celery import SWEEP_TASK, app

    entry = app.conf.beat_schedule["sweep-lost-workers"]
    assert entry["task"] == SWEEP_TASK == sweep_lost_workers_task.name
    assert entry["schedule"] == float(settings.CHORUS_SWEEP_SECONDS)
    route = app.amqp.router.route({}, SWEEP_TASK, args=(), kwargs={})
    assert route["queue"].name == "default"  # not behind a long training run


def _stale_run(tmp_path, settings) -> tuple[TrainingRun, object]:  # noqa: ANN001
    settings.CHORUS_TRAINING_STALE_SECONDS = 60
    run = finished_run(tmp_path)
    old = timezone.now() - timedelta(seconds=61)
    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=old, started_at=old, worker_hostname="w1"
    )
    return run, old


def test_the_sweep_fails_a_stale_run_that_nobody_reads(tmp_path, settings):
    run, old = _stale_run(tmp_path, settings)
    assert sweep_lost_workers_task.run() == 1
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.finished_at
    assert run.error == f"worker lost: no heartbeat since {old:%Y-%m-%d %H:%M:%S} UTC (worker w1)."
    assert sweep_lost_workers_task.run() == 0


def test_reading_a_stale_run_writes_nothing(as_persona, tmp_path, settings):
    run, _ = _stale_run(tmp_path, settings)
    client = as_persona("researcher")
    for url in (
        "/training/",
        f"/training/{run.pk}/",
        "/api/training/runs/",
        f"/api/training/runs/{run.pk}/",
    ):
        assert client.get(url).status_code == 200
    assert TrainingRun.objects.get(pk=run.pk).status == RunStatus.RUNNING


def test_sweep_fails_runs_with_a_stale_heartbeat_only(make_run, settings):
    settings.CHORUS_TRAINING_STALE_SECONDS = 60
    stale, fresh = make_run(), make_run()
    old = timezone.now() - timedelta(seconds=61)
    TrainingRun.objects.filter(pk=stale.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=old, worker_hostname="w1"
    )
    TrainingRun.objects.filter(pk=fresh.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=timezone.now()
    )
    assert runs_fail_stale() == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == RunStatus.FAILED and stale.finished_at
    assert stale.error.startswith(
        f"worker lost: no heartbeat since {old:%Y-%m-%d %H:%M:%S} UTC (worker w1)"
    )
    assert fresh.status == RunStatus.RUNNING


def test_a_restarted_worker_fails_the_runs_it_had(make_run):
    mine, other = make_run(), make_run()
    TrainingRun.objects.filter(pk=mine.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=timezone.now(), worker_hostname="a@h"
    )
    TrainingRun.objects.filter(pk=other.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=timezone.now(), worker_hostname="b@h"
    )
    assert jobs_fail_orphaned(hostname="a@h") == 1
    assert TrainingRun.objects.get(pk=mine.pk).error.startswith("worker lost: a@h restarted")
    assert TrainingRun.objects.get(pk=other.pk).status == RunStatus.RUNNING
