"""Steering generation jobs: cooperative cancel, the heartbeat, the list endpoint (the
inference key: test_inference_endpoints.py). Generation is faked (the real models run in the slow tests)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from annotation.models import Completion, Item
from tests.training.fixtures import (
    fake_generate_local,
    generation_job_for,
)
from training import worker
from training.models import GenerationJob, RunStatus
from training.services.generation import (
    generation_job_cancel,
    generation_job_create,
    generation_job_execute,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ml_in_process")]


def test_a_queued_job_is_cancelled_at_once_and_an_ended_one_refuses(
    researcher, pairwise, model_dir
):
    job = generation_job_cancel(job=generation_job_for(researcher, pairwise, model_dir))
    assert (job.status, job.cancel_requested) == (RunStatus.CANCELLED, True) and job.finished_at
    generation_job_execute(job_id=job.pk, hostname="w")  # the queued message does nothing now
    assert GenerationJob.objects.get(pk=job.pk).status == RunStatus.CANCELLED
    with pytest.raises(ValidationError, match="already ended"):
        generation_job_cancel(job=job)


def test_the_cancel_api_answers_409_for_an_endedgeneration_job_for(
    as_persona, researcher, pairwise, model_dir
):
    job = generation_job_for(researcher, pairwise, model_dir)
    client = as_persona("researcher")
    assert (
        client.post(f"/api/training/generation-jobs/{job.pk}/cancel/").json()["status"]
        == "cancelled"
    )
    assert client.post(f"/api/training/generation-jobs/{job.pk}/cancel/").status_code == 409


def test_a_running_job_stops_at_the_next_batch_and_makes_nothing(
    researcher, pairwise, tmp_path, monkeypatch
):
    dirs = [tmp_path / "one", tmp_path / "two"]
    for d in dirs:
        d.mkdir()
    calls = []

    def generate(path, prompts, k, settings, on_batch=None):  # noqa: ANN001, ANN202
        calls.append(path)
        job = GenerationJob.objects.get()
        assert job.status == RunStatus.RUNNING and job.heartbeat_at is not None
        if len(calls) == 2:  # the second model: someone presses cancel mid-job
            generation_job_cancel(job=job)
        return fake_generate_local(path, prompts, k, settings, on_batch)

    monkeypatch.setattr("training.ml.generate.generate_local", generate)
    job = generation_job_create(
        created_by=researcher, project=pairwise, sources=[{"model": str(d)} for d in dirs]
    )
    generation_job_execute(job_id=job.pk, hostname="w")
    job.refresh_from_db()
    # it stops after that batch (done counts it) and before the items: nothing is kept
    assert (job.status, job.done, job.items_created) == (RunStatus.CANCELLED, 12, 0)
    assert not Completion.objects.exists() and not Item.objects.exists()


def test_the_heartbeat_moves_with_every_batch(researcher, pairwise, model_dir, monkeypatch):
    # Progress is written at most every PROGRESS_SECONDS; unthrottled here: a write per batch.
    monkeypatch.setattr(worker, "PROGRESS_SECONDS", 0)
    beats = []

    def generate(path, prompts, k, settings, on_batch=None):  # noqa: ANN001, ANN202
        for done in (2, 4, 6):
            on_batch(done, 6)
            beats.append(GenerationJob.objects.values_list("heartbeat_at", "done").get())
        return fake_generate_local(path, prompts, k, settings)

    monkeypatch.setattr("training.ml.generate.generate_local", generate)
    job = generation_job_for(researcher, pairwise, model_dir)
    generation_job_execute(job_id=job.pk, hostname="w")
    assert [done for _, done in beats] == [2, 4, 6]
    assert beats[0][0] <= beats[2][0] and GenerationJob.objects.get().status == RunStatus.SUCCEEDED


def test_the_job_list_api_is_paginated_newest_first(as_persona, researcher, pairwise, model_dir):
    jobs = [generation_job_for(researcher, pairwise, model_dir) for _ in range(3)]
    body = as_persona("researcher").get("/api/training/generation-jobs/?limit=2").json()
    assert body["count"] == 3 and [j["id"] for j in body["results"]] == [jobs[2].pk, jobs[1].pk]
    assert body["results"][0]["cancel_requested"] is False
