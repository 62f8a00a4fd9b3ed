"""The lost-worker sweep runs from Celery beat, never from a read: a stale run or job is failed
by the periodic task while nobody looks at it, and pages and API reads leave it as it is."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from annotation.models import Item
from tests.training.fixtures import fake_generate_local, finished_run, generation_job_for
from training.models import GenerationJob, RunStatus, TrainingRun
from training.services.generation import generation_job_execute
from training.services.sweeps import generation_jobs_fail_stale, jobs_fail_orphaned, runs_fail_stale
from training.tasks import _fail_jobs_of_lost_workers, sweep_lost_workers_task

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ml_in_process")]


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


def _running(job, beat, hostname="w1"):  # noqa: ANN001, ANN202
    GenerationJob.objects.filter(pk=job.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=beat, started_at=beat, worker_hostname=hostname
    )


def test_a_job_with_a_stale_heartbeat_fails_on_the_periodic_sweep_not_on_a_read(
    as_persona, researcher, pairwise, model_dir, settings
):
    settings.CHORUS_TRAINING_STALE_SECONDS = 60
    stale, fresh = (
        generation_job_for(researcher, pairwise, model_dir),
        generation_job_for(researcher, pairwise, model_dir),
    )
    old = timezone.now() - timedelta(seconds=61)
    _running(stale, old)
    _running(fresh, timezone.now())
    as_persona("researcher").get("/training/loop/")
    as_persona("researcher").get(f"/api/training/generation-jobs/{stale.pk}/")
    assert GenerationJob.objects.get(pk=stale.pk).status == RunStatus.RUNNING  # GETs never write
    assert sweep_lost_workers_task.run() == 1  # what Celery beat runs
    stale.refresh_from_db()
    assert stale.status == RunStatus.FAILED and stale.finished_at
    assert (
        stale.error == f"worker lost: no heartbeat since {old:%Y-%m-%d %H:%M:%S} UTC (worker w1)."
    )
    assert GenerationJob.objects.get(pk=fresh.pk).status == RunStatus.RUNNING
    _running(fresh, old)
    sweep_lost_workers_task.run()
    body = as_persona("researcher").get(f"/api/training/generation-jobs/{fresh.pk}/").json()
    assert body["status"] == "failed" and body["error"].startswith("worker lost")


def test_a_starting_worker_fails_the_jobs_it_had(researcher, pairwise, model_dir):
    mine, other = (
        generation_job_for(researcher, pairwise, model_dir),
        generation_job_for(researcher, pairwise, model_dir),
    )
    _running(mine, timezone.now(), "a@h")
    _running(other, timezone.now(), "b@h")
    _fail_jobs_of_lost_workers(sender=SimpleNamespace(hostname="a@h"))
    assert GenerationJob.objects.get(pk=mine.pk).error.startswith("worker lost: a@h restarted")
    assert GenerationJob.objects.get(pk=other.pk).status == RunStatus.RUNNING
    assert jobs_fail_orphaned(hostname="a@h") == 0 and generation_jobs_fail_stale() == 0


def test_a_job_failed_by_the_sweep_stays_failed(researcher, pairwise, model_dir, monkeypatch):
    def generate(path, prompts, k, settings, on_batch=None):  # noqa: ANN001, ANN202
        GenerationJob.objects.update(status=RunStatus.FAILED, error="worker lost: test")
        return fake_generate_local(path, prompts, k, settings, on_batch)

    monkeypatch.setattr("training.ml.generate.generate_local", generate)
    job = generation_job_for(researcher, pairwise, model_dir)
    generation_job_execute(job_id=job.pk, hostname="w")
    job.refresh_from_db()
    assert (job.status, job.error) == (RunStatus.FAILED, "worker lost: test")
    assert not Item.objects.exists()


def test_a_running_run_that_never_beat_is_failed_by_the_beat_sweep(make_run, settings):
    """Issue 10 (4): a running job with no heartbeat at all (its worker died before the first
    one, or never wrote it) was never swept: `heartbeat_at < cutoff` is false for NULL."""
    settings.CHORUS_TRAINING_STALE_SECONDS = 60
    started, dispatched, young = make_run(), make_run(), make_run()
    old = timezone.now() - timedelta(seconds=61)
    TrainingRun.objects.filter(pk=started.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=None, started_at=old, worker_hostname="w1"
    )
    TrainingRun.objects.filter(pk=dispatched.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=None, started_at=None, dispatched_at=old
    )
    TrainingRun.objects.filter(pk=young.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=None, started_at=timezone.now()
    )
    assert sweep_lost_workers_task.run() == 2
    started.refresh_from_db()
    assert started.status == RunStatus.FAILED and started.finished_at
    assert (
        started.error == f"worker lost: no heartbeat since {old:%Y-%m-%d %H:%M:%S} UTC (worker w1)."
    )
    assert TrainingRun.objects.get(pk=dispatched.pk).status == RunStatus.FAILED
    assert TrainingRun.objects.get(pk=young.pk).status == RunStatus.RUNNING


def test_a_worker_back_under_a_new_hostname_leaves_its_old_runs_to_the_stale_sweep(
    make_run, settings
):
    """The old hostname never starts again, so `jobs_fail_orphaned` cannot find its runs; the
    periodic stale sweep does, whatever the hostname, once nobody beats for them."""
    settings.CHORUS_TRAINING_STALE_SECONDS = 60
    run = make_run()
    old = timezone.now() - timedelta(seconds=61)
    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=old, started_at=old, worker_hostname="celery@old"
    )
    _fail_jobs_of_lost_workers(sender=SimpleNamespace(hostname="celery@new"))
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.error.startswith("worker lost: no heartbeat since") and "celery@old" in run.error
