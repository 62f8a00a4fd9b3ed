"""The broker dies with runs and exports queued: after it comes back each job is re-dispatched
by the beat sweep and completes, and a job asked for during the outage is refused with a JSON
503 and its row failed with the reason (none is left queued forever).

The broker is a throwaway `redis-server` without persistence on a free port, so killing it
loses every message it held, which is the fault: rows queued, messages gone.
"""

from __future__ import annotations

import kombu.pools
import pytest
from django.urls import reverse
from django.utils import timezone

from annotation.models import ExportJob, JobStatus
from config.celery import app
from tests.faults.conftest import create_run, wait_until
from tests.worker import celery_worker
from training.models import RunStatus, TrainingRun

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def on_redis(redis_server, settings, monkeypatch):
    """This test process and the workers it starts publish to the throwaway Redis."""
    saved = (app.conf.broker_url, app.conf.broker_transport_options)

    def reset_pools() -> None:
        # kombu keeps producer pools in a process-wide registry keyed by connection: closing
        # only the app's pool left a closed one there for the original broker, and every later
        # publish in this process failed with "Acquire on closed pool".
        if app._pool is not None:
            app._pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None
        kombu.pools.reset()

    settings.CELERY_BROKER_URL = redis_server.url  # what tests/worker.py gives the workers
    # Celery reads the CELERY_BROKER_URL environment variable before its own configuration
    # (CI's second pass sets it): without this the test process would publish to that broker.
    monkeypatch.setenv("CELERY_BROKER_URL", redis_server.url)
    app.conf.broker_url, app.conf.broker_transport_options = redis_server.url, {}
    reset_pools()
    yield redis_server
    reset_pools()
    app.conf.broker_url, app.conf.broker_transport_options = saved


def _export(api, project):  # noqa: ANN001, ANN202
    url = reverse("api-export-create", args=[project.pk])
    return api.post(url, {"format": "raw"}, content_type="application/json")


def test_jobs_queued_when_the_broker_dies_are_redispatched_or_failed_with_a_reason(
    api, judged, tiny_base_model, on_redis, tmp_path
):
    exports = [_export(api, judged) for _ in range(2)]
    assert [r.status_code for r in exports] == [201, 201], exports[0].content
    run = create_run(api, judged, tiny_base_model, max_steps=2)
    assert run.status_code == 201, run.content
    queued = list(ExportJob.objects.values_list("pk", flat=True))
    run_id = run.json()["id"]
    assert ExportJob.objects.filter(status=JobStatus.QUEUED).count() == 2

    on_redis.kill()  # no worker has taken them: their messages die with the broker
    outage = timezone.now()
    refused = _export(api, judged)
    assert refused.status_code == 503 and refused["Retry-After"]
    assert refused["Content-Type"] == "application/json", refused.content
    lost = ExportJob.objects.exclude(pk__in=queued).get()
    assert lost.status == JobStatus.FAILED and lost.error.startswith("broker unavailable")

    on_redis.start()  # back, empty
    env = {"CHORUS_SWEEP_SECONDS": "1", "CHORUS_REDISPATCH_SECONDS": "2"}
    beat = ["--beat", "--schedule", str(tmp_path / "celerybeat-schedule")]
    with celery_worker(queues="default,training", args=beat, **env) as worker:

        def ended() -> bool:
            jobs = ExportJob.objects.filter(pk__in=queued)
            return not jobs.filter(status__in=(JobStatus.QUEUED, JobStatus.RUNNING)).exists() and (
                TrainingRun.objects.filter(pk=run_id)
                .exclude(status__in=(RunStatus.QUEUED, RunStatus.RUNNING))
                .exists()
            )

        try:
            wait_until(ended, 150, "the queued jobs to be re-dispatched and to end", 0.25)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; worker log:\n{worker.log[-4000:]}") from None
    for job in ExportJob.objects.filter(pk__in=queued):
        assert job.status == JobStatus.SUCCEEDED, job.error
        assert job.dispatched_at > outage  # published again by the sweep
    trained = TrainingRun.objects.get(pk=run_id)
    assert trained.status == RunStatus.SUCCEEDED, trained.error
    assert trained.dispatched_at > outage
