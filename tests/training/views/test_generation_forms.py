"""The create forms of generation jobs, evaluations and scoring: field errors, every kind of
source, the links and the cancel button. Generation is faked."""

from __future__ import annotations

import pytest

from tests.training.fixtures import (
    finished_run,
    generation_job_for,
)
from training.models import GenerationJob, GenerationPurpose, InferenceEndpoint, RunKind
from training.services.generation import (
    generation_job_cancel,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ml_in_process")]

SAMPLING = {"max_new_tokens": 8, "temperature": 1, "top_p": 1, "seed": 0, "batch_size": 8}


def test_the_job_form_creates_a_job_from_every_kind_of_source(
    as_persona, pairwise, model_dir, tmp_path
):
    run, reward = finished_run(tmp_path), finished_run(tmp_path, kind=RunKind.REWARD, name="rm")
    InferenceEndpoint.objects.create(name="local-vllm", base_url="http://127.0.0.1:9/v1")
    response = as_persona("researcher").post(
        "/training/loop/jobs/new/",
        {"project": pairwise.pk, "runs": run.pk, "models": f"{model_dir}\n\n", "samples_per_prompt": 1,
         "endpoint": "local-vllm", "api_model": "served", "chat": "on",
         "reward_run": reward.pk, **SAMPLING, "temperature": 0.7},
    )  # fmt: skip
    job = GenerationJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/training/loop/jobs/{job.pk}/"
    assert [s["label"] for s in job.sources] == [
        f"run:{run.pk}",
        model_dir,
        "served@local-vllm",
    ]
    assert job.sources[2]["chat"] is True and job.reward_run == reward
    assert (job.samples_per_prompt, job.sampling["temperature"], job.total) == (1, 0.7, 9)


def test_the_job_form_shows_field_errors(as_persona, pairwise):
    client = as_persona("researcher")
    InferenceEndpoint.objects.create(name="local-vllm", base_url="http://127.0.0.1:9/v1")
    no_model = client.post(
        "/training/loop/jobs/new/", {"project": pairwise.pk, "samples_per_prompt": 2, **SAMPLING}
    )
    assert "Choose at least one model" in no_model.content.decode()
    bad = client.post(
        "/training/loop/jobs/new/",
        {"project": pairwise.pk, "samples_per_prompt": 0, "endpoint": "local-vllm", **SAMPLING, "top_p": 2},
    )  # fmt: skip
    errors = bad.context["form"].errors
    assert {"samples_per_prompt", "top_p", "api_model"} <= set(errors)
    missing_dir = client.post(
        "/training/loop/jobs/new/",
        {"project": pairwise.pk, "models": "/no/such/dir", "samples_per_prompt": 2, **SAMPLING},
    )
    assert (
        missing_dir.status_code == 400
        and "outside the model directories" in missing_dir.content.decode()
    )
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
    job = generation_job_for(researcher, pairwise, model_dir)
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
