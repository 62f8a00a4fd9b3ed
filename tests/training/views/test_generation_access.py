"""Who may see the loop's pages and API: researchers and admins; labelers and outsiders get 404
on pages and 403 on the API; anonymous visitors go to the login page (pages) or get 403 (API)."""

from __future__ import annotations

import pytest

from annotation.models import Completion
from tests.conftest import PERSONAS
from tests.factories import ProjectFactory, PromptFactory
from tests.training.fixtures import finished_run
from training.models import GenerationJob, GenerationPurpose, RunKind

pytestmark = pytest.mark.django_db

PAGE = {
    "labeler": 404,
    "other_labeler": 404,
    "researcher": 200,
    "admin_user": 200,
    "outsider": 404,
    "anonymous": 302,
}
API = {**PAGE, "labeler": 403, "other_labeler": 403, "outsider": 403, "anonymous": 403}


@pytest.fixture
def loop(researcher, tmp_path):
    project = ProjectFactory(created_by=researcher, name="Eval")
    prompt = PromptFactory(project=project)
    Completion.objects.create(prompt=prompt, text="an answer", source_model="base")
    run = finished_run(tmp_path)
    reward = finished_run(tmp_path, kind=RunKind.REWARD, name="rm")
    job = GenerationJob.objects.create(
        project=project, purpose=GenerationPurpose.EVALUATION, prompt_ids=[prompt.pk], samples_per_prompt=1,
        sources=[{"kind": "model", "path": str(tmp_path), "label": "base"}, {"kind": "run", "run": run.pk, "label": f"run:{run.pk}"}],
    )  # fmt: skip
    return {
        "project": project,
        "prompt": prompt,
        "run": run,
        "reward": reward,
        "job": job,
        "dir": str(tmp_path),
    }


def _pages(loop):  # noqa: ANN001, ANN202
    return [
        "/training/loop/",
        f"/training/loop/jobs/{loop['job'].pk}/",
        f"/training/loop/projects/{loop['project'].pk}/",
        f"/training/{loop['run'].pk}/lineage/",
        "/training/loop/jobs/new/",
        "/training/loop/evaluations/new/",
        f"/training/loop/scoring/new/?project={loop['project'].pk}",
    ]


def _gets(loop):  # noqa: ANN001, ANN202
    return [
        f"/api/training/generation-jobs/{loop['job'].pk}/",
        f"/api/training/evaluations/{loop['project'].pk}/report/",
        f"/api/training/evaluations/{loop['project'].pk}/reward-agreement/{loop['reward'].pk}/",
        f"/api/training/runs/{loop['run'].pk}/lineage/",
        "/api/training/generation-jobs/",
        "/api/training/evaluations/",
    ]


@pytest.mark.parametrize("persona", PERSONAS)
def test_pages(as_persona, loop, persona):
    client = as_persona(persona)
    for url in _pages(loop):
        response = client.get(url)
        assert response.status_code == PAGE[persona], url
        if persona == "anonymous":
            assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_reads(as_persona, loop, persona):
    client = as_persona(persona)
    for url in _gets(loop):
        assert client.get(url).status_code == API[persona], url


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_writes(as_persona, loop, persona):
    client = as_persona(persona)
    job = client.post(
        "/api/training/generation-jobs/",
        {
            "project": loop["project"].pk,
            "sources": [{"model": loop["dir"]}],
            "samples_per_prompt": 2,
        },
        content_type="application/json",
    )
    evaluation = client.post(
        "/api/training/evaluations/",
        {
            "name": f"eval by {persona}",
            "sources": [{"model": loop["dir"]}, {"run": loop["run"].pk}],
            "prompts": ["hi"],
        },
        content_type="application/json",
    )
    expected = {**API, "researcher": 201, "admin_user": 201}[persona]
    assert (job.status_code, evaluation.status_code) == (expected, expected), (
        job.content,
        evaluation.content,
    )


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_cancel_and_scoring(as_persona, loop, persona):
    client = as_persona(persona)
    cancel = client.post(f"/api/training/generation-jobs/{loop['job'].pk}/cancel/")
    scoring = client.post(
        "/api/training/scoring-jobs/",
        {"project": loop["project"].pk, "reward_run": loop["reward"].pk},
        content_type="application/json",
    )
    assert cancel.status_code == API[persona], cancel.content
    assert scoring.status_code == {**API, "researcher": 201, "admin_user": 201}[persona], (
        scoring.content
    )


@pytest.mark.parametrize("persona", PERSONAS)
def test_form_posts(as_persona, loop, persona):
    """The create forms and the cancel button: researchers are sent on to the job page."""
    client = as_persona(persona)
    posts = {
        "/training/loop/jobs/new/": {
            "project": loop["project"].pk, "models": loop["dir"], "samples_per_prompt": 2,
            "max_new_tokens": 8, "temperature": 1, "top_p": 1, "seed": 0, "batch_size": 8,
        },
        "/training/loop/evaluations/new/": {
            "name": f"eval by {persona}", "prompts": "hi\nbye", "overlap_target": 3,
            "runs": loop["run"].pk, "models": loop["dir"],
            "max_new_tokens": 8, "temperature": 1, "top_p": 1, "seed": 0, "batch_size": 8,
        },
        "/training/loop/scoring/new/": {
            "project": loop["project"].pk, "reward_run": loop["reward"].pk
        },
        f"/training/loop/jobs/{loop['job'].pk}/cancel/": {},
    }  # fmt: skip
    for url, data in posts.items():
        response = client.post(url, data)
        expected = {**PAGE, "researcher": 302, "admin_user": 302}[persona]
        assert response.status_code == expected, (url, response.content[-2000:])
        if persona == "anonymous":
            assert response["Location"].startswith("/accounts/login/")
        elif expected == 302:
            assert response["Location"].startswith("/training/loop/jobs/"), url


def test_missing_objects_are_404_for_researchers(as_persona, loop):
    client = as_persona("researcher")
    assert client.get("/api/training/generation-jobs/999999/").status_code == 404
    assert client.post("/api/training/generation-jobs/999999/cancel/").status_code == 404
    assert client.post("/training/loop/jobs/999999/cancel/").status_code == 404
    assert client.get("/training/loop/projects/999999/").status_code == 404
    assert client.get("/api/training/runs/999999/lineage/").status_code == 404


def test_a_bad_job_is_a_400_with_the_reason(as_persona, loop):
    response = as_persona("researcher").post(
        "/api/training/generation-jobs/",
        {"project": loop["project"].pk, "sources": [{"model": "/no/such/dir"}]},
        content_type="application/json",
    )
    assert response.status_code == 400 and "not a directory" in str(response.json())


def test_the_schema_names_are_unique_and_warning_free():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    names = set(schema["components"]["schemas"])
    assert {"GenerationJobCreateInput", "EvaluationReportOutput", "LineageOutput"} <= names
