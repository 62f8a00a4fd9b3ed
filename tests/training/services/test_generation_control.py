"""Steering generation jobs: the create forms (field errors), cooperative cancel, the heartbeat
and the lost-worker sweep, scoring a project in the background, the list endpoints, and the
inference API key. Generation and scoring are faked (the real models run in the slow tests)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from annotation.models import Completion, Item, ProjectKind
from tests.factories import ProjectFactory, PromptFactory, item_create
from tests.training.conftest import judge
from tests.training.fixtures import fake_generate_local, finished_run
from tests.training.openai_stub import openai_stub, stub_url
from training import worker
from training.models import CompletionScore, GenerationJob, GenerationPurpose, RunKind, RunStatus
from training.services import scoring
from training.services.generation import (
    generation_job_cancel,
    generation_job_create,
    generation_job_execute,
)
from training.services.scoring import scoring_job_create
from training.services.sweeps import generation_jobs_fail_stale, jobs_fail_orphaned
from training.tasks import _fail_jobs_of_lost_workers, sweep_lost_workers_task

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ml_in_process")]

SAMPLING = {"max_new_tokens": 8, "temperature": 1, "top_p": 1, "seed": 0, "batch_size": 8}


@pytest.fixture
def model_dir(tmp_path):
    (tmp_path / "base").mkdir()
    return str(tmp_path / "base")


@pytest.fixture
def pairwise(researcher):
    project = ProjectFactory(created_by=researcher, kind=ProjectKind.PAIRWISE, name="Candidates")
    for _ in range(3):
        PromptFactory(project=project)
    return project


def _job(researcher, project, model_dir):  # noqa: ANN001, ANN202
    return generation_job_create(
        created_by=researcher, project=project, sources=[{"model": model_dir}], samples_per_prompt=2
    )


def _fake_scores(path, pairs, batch_size=16, max_length=512, on_batch=None):  # noqa: ANN001, ANN202
    """Longer completions score higher; reports one batch."""
    if on_batch:
        on_batch(len(pairs), len(pairs))
    return [float(len(text)) for _, text in pairs]


# --- forms -----------------------------------------------------------------------------------


def test_the_job_form_creates_a_job_from_every_kind_of_source(
    as_persona, pairwise, model_dir, tmp_path
):
    run, reward = finished_run(tmp_path), finished_run(tmp_path, kind=RunKind.REWARD, name="rm")
    response = as_persona("researcher").post(
        "/training/loop/jobs/new/",
        {"project": pairwise.pk, "runs": run.pk, "models": f"{model_dir}\n\n", "samples_per_prompt": 1,
         "endpoint": "http://127.0.0.1:9/v1", "api_model": "served", "chat": "on",
         "reward_run": reward.pk, **SAMPLING, "temperature": 0.7},
    )  # fmt: skip
    job = GenerationJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/training/loop/jobs/{job.pk}/"
    assert [s["label"] for s in job.sources] == [
        f"run:{run.pk}",
        model_dir,
        "served@http://127.0.0.1:9/v1",
    ]
    assert job.sources[2]["chat"] is True and job.reward_run == reward
    assert (job.samples_per_prompt, job.sampling["temperature"], job.total) == (1, 0.7, 9)


def test_the_job_form_shows_field_errors(as_persona, pairwise):
    client = as_persona("researcher")
    no_model = client.post(
        "/training/loop/jobs/new/", {"project": pairwise.pk, "samples_per_prompt": 2, **SAMPLING}
    )
    assert "Choose at least one model" in no_model.content.decode()
    bad = client.post(
        "/training/loop/jobs/new/",
        {"project": pairwise.pk, "samples_per_prompt": 0, "endpoint": "http://localhost:8000/v1", **SAMPLING, "top_p": 2},
    )  # fmt: skip
    errors = bad.context["form"].errors
    assert {"samples_per_prompt", "top_p", "api_model"} <= set(errors)
    missing_dir = client.post(
        "/training/loop/jobs/new/",
        {"project": pairwise.pk, "models": "/no/such/dir", "samples_per_prompt": 2, **SAMPLING},
    )
    assert missing_dir.status_code == 200 and "not a directory" in missing_dir.content.decode()
    one_sample = client.post(
        "/training/loop/jobs/new/",
        {"project": pairwise.pk, "models": "gpt2", "samples_per_prompt": 1, **SAMPLING},
    )
    assert "at least two completions" in str(
        one_sample.context["form"].errors["samples_per_prompt"]
    )
    assert not GenerationJob.objects.exists()


def test_the_evaluation_form_makes_a_project_of_the_held_out_prompts(
    as_persona, model_dir, tmp_path
):
    run = finished_run(tmp_path)
    client = as_persona("researcher")
    one_model = client.post(
        "/training/loop/evaluations/new/",
        {
            "name": "Round 1",
            "prompts": "a\nb",
            "overlap_target": 3,
            "models": model_dir,
            **SAMPLING,
        },
    )
    assert "two or more models" in one_model.content.decode()
    response = client.post(
        "/training/loop/evaluations/new/",
        {"name": "Round 1", "prompts": "tell me a joke\n\nsay hi\n", "overlap_target": 2,
         "runs": run.pk, "models": model_dir, **SAMPLING},
    )  # fmt: skip
    job = GenerationJob.objects.get()
    assert response.status_code == 302 and job.purpose == GenerationPurpose.EVALUATION
    assert (job.project.name, job.project.overlap_target, len(job.prompt_ids)) == ("Round 1", 2, 2)
    assert client.get("/api/training/evaluations/").json()["results"] == [
        {
            "id": job.project.pk,
            "name": "Round 1",
            "jobs": [job.pk],
            "models": [f"run:{run.pk}", model_dir],
        }
    ]


def test_the_pages_link_the_forms_and_the_cancel_button(
    as_persona, researcher, pairwise, model_dir
):
    job = _job(researcher, pairwise, model_dir)
    client = as_persona("researcher")
    index = client.get("/training/loop/").content.decode()
    assert "/training/loop/jobs/new/" in index and "/training/loop/evaluations/new/" in index
    assert (
        f"/training/loop/jobs/{job.pk}/cancel/"
        in client.get(f"/training/loop/jobs/{job.pk}/").content.decode()
    )
    generation_job_cancel(job=job)
    page = client.get(f"/training/loop/jobs/{job.pk}/").content.decode()
    assert "/cancel/" not in page and "Cancelled" in page


# --- cancel ----------------------------------------------------------------------------------


def test_a_queued_job_is_cancelled_at_once_and_an_ended_one_refuses(
    researcher, pairwise, model_dir
):
    job = generation_job_cancel(job=_job(researcher, pairwise, model_dir))
    assert (job.status, job.cancel_requested) == (RunStatus.CANCELLED, True) and job.finished_at
    generation_job_execute(job_id=job.pk, hostname="w")  # the queued message does nothing now
    assert GenerationJob.objects.get(pk=job.pk).status == RunStatus.CANCELLED
    with pytest.raises(ValidationError, match="already ended"):
        generation_job_cancel(job=job)


def test_the_cancel_api_answers_409_for_an_ended_job(as_persona, researcher, pairwise, model_dir):
    job = _job(researcher, pairwise, model_dir)
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
    job = _job(researcher, pairwise, model_dir)
    generation_job_execute(job_id=job.pk, hostname="w")
    assert [done for _, done in beats] == [2, 4, 6]
    assert beats[0][0] <= beats[2][0] and GenerationJob.objects.get().status == RunStatus.SUCCEEDED


# --- lost workers ----------------------------------------------------------------------------


def _running(job, beat, hostname="w1"):  # noqa: ANN001, ANN202
    GenerationJob.objects.filter(pk=job.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=beat, started_at=beat, worker_hostname=hostname
    )


def test_a_job_with_a_stale_heartbeat_fails_on_the_periodic_sweep_not_on_a_read(
    as_persona, researcher, pairwise, model_dir, settings
):
    settings.CHORUS_TRAINING_STALE_SECONDS = 60
    stale, fresh = _job(researcher, pairwise, model_dir), _job(researcher, pairwise, model_dir)
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
    mine, other = _job(researcher, pairwise, model_dir), _job(researcher, pairwise, model_dir)
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
    job = _job(researcher, pairwise, model_dir)
    generation_job_execute(job_id=job.pk, hostname="w")
    job.refresh_from_db()
    assert (job.status, job.error) == (RunStatus.FAILED, "worker lost: test")
    assert not Item.objects.exists()


# --- scoring ---------------------------------------------------------------------------------


def test_scoring_a_project_in_the_background_shows_reward_vs_people(
    as_persona, researcher, labeler, tmp_path, monkeypatch
):
    monkeypatch.setattr("training.ml.score.score_local", _fake_scores)
    reward = finished_run(tmp_path, kind=RunKind.REWARD, name="rm")
    project = ProjectFactory(created_by=researcher, kind=ProjectKind.PAIRWISE)
    for i in range(4):  # labelers prefer the longer reply, as the fake reward model does
        item = item_create(
            project, texts=("short", "much longer") if i % 2 else ("much longer", "short")
        )
        judge(item, labeler, "b" if i % 2 else "a")
    client = as_persona("researcher")
    response = client.post(
        "/api/training/scoring-jobs/", {"project": project.pk, "reward_run": reward.pk},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 201 and response.json()["purpose"] == "scoring"
    job_id = response.json()["id"]
    assert response.json()["total"] == 8
    generation_job_execute(job_id=job_id, hostname="w")
    job = GenerationJob.objects.get(pk=job_id)
    assert (job.status, job.done, job.total) == (RunStatus.SUCCEEDED, 8, 8), job.error
    assert CompletionScore.objects.filter(reward_run=reward).count() == 8
    page = client.get(f"/training/loop/projects/{project.pk}/").content.decode()
    assert "Reward model vs people" in page and 'id="score"' in page
    again = scoring_job_create(created_by=researcher, project=project, reward_run=reward)
    assert again.total == 0  # every completion is scored already


def test_scoring_refuses_bad_input(as_persona, researcher, tmp_path):
    policy, reward = finished_run(tmp_path), finished_run(tmp_path, kind=RunKind.REWARD, name="rm")
    empty = ProjectFactory(created_by=researcher)
    client = as_persona("researcher")
    not_reward = client.post(
        "/training/loop/scoring/new/", {"project": empty.pk, "reward_run": policy.pk}
    )
    assert "reward_run" in not_reward.context["form"].errors
    nothing = client.post(
        "/training/loop/scoring/new/", {"project": empty.pk, "reward_run": reward.pk}
    )
    assert "no completions to score" in str(nothing.context["form"].errors["project"])
    with pytest.raises(ValidationError, match="succeeded reward"):
        scoring_job_create(created_by=researcher, project=empty, reward_run=policy)


def test_a_cancelled_scoring_job_keeps_the_chunks_it_stored(researcher, tmp_path, monkeypatch):
    monkeypatch.setattr(scoring, "SCORE_CHUNK", 2)
    calls = []

    def scores(path, pairs, batch_size=16, max_length=512, on_batch=None):  # noqa: ANN001, ANN202
        calls.append(len(pairs))
        if len(calls) == 2:
            generation_job_cancel(job=GenerationJob.objects.get())
        return _fake_scores(path, pairs, on_batch=on_batch)

    monkeypatch.setattr("training.ml.score.score_local", scores)
    reward = finished_run(tmp_path, kind=RunKind.REWARD, name="rm")
    project = ProjectFactory(created_by=researcher)
    for _ in range(3):
        item_create(project)
    job = scoring_job_create(created_by=researcher, project=project, reward_run=reward)
    generation_job_execute(job_id=job.pk, hostname="w")
    job.refresh_from_db()
    assert (job.status, job.done, CompletionScore.objects.count()) == (RunStatus.CANCELLED, 2, 2)


# --- lists and the inference key --------------------------------------------------------------


def test_the_job_list_api_is_paginated_newest_first(as_persona, researcher, pairwise, model_dir):
    jobs = [_job(researcher, pairwise, model_dir) for _ in range(3)]
    body = as_persona("researcher").get("/api/training/generation-jobs/?limit=2").json()
    assert body["count"] == 3 and [j["id"] for j in body["results"]] == [jobs[2].pk, jobs[1].pk]
    assert body["results"][0]["cancel_requested"] is False


@pytest.mark.parametrize("key", ["sk-test-123", ""])
def test_the_inference_key_is_sent_as_a_bearer_token(researcher, pairwise, settings, key):
    settings.CHORUS_INFERENCE_API_KEY = key
    with openai_stub() as server:
        job = generation_job_create(
            created_by=researcher, project=pairwise,
            sources=[{"endpoint": stub_url(server), "api_model": "served"}],
        )  # fmt: skip
        generation_job_execute(job_id=job.pk, hostname="w")
    assert GenerationJob.objects.get(pk=job.pk).status == RunStatus.SUCCEEDED
    headers = [r["headers"].get("Authorization") for r in server.requests]
    assert headers == ([f"Bearer {key}"] if key else [None]) * 3
