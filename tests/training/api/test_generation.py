"""Who may use the API of generation jobs, evaluations and lineage: researchers and admins;
everyone else gets 403; a missing object is 404 and a bad job a 400."""

from __future__ import annotations

import pytest

from tests.access import PERSONAS, RESEARCH_API, RESEARCH_CREATE

pytestmark = pytest.mark.django_db


def _gets(generated):  # noqa: ANN001, ANN202
    return [
        f"/api/training/generation-jobs/{generated['job'].pk}/",
        f"/api/training/evaluations/{generated['project'].pk}/report/",
        f"/api/training/evaluations/{generated['project'].pk}/reward-agreement/{generated['reward'].pk}/",
        f"/api/training/runs/{generated['run'].pk}/lineage/",
        "/api/training/generation-jobs/",
        "/api/training/evaluations/",
    ]


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_reads(as_persona, generated, persona):
    client = as_persona(persona)
    for url in _gets(generated):
        assert client.get(url).status_code == RESEARCH_API[persona], url


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_writes(as_persona, generated, persona):
    client = as_persona(persona)
    job = client.post(
        "/api/training/generation-jobs/",
        {
            "project": generated["project"].pk,
            "sources": [{"model": generated["dir"]}],
            "samples_per_prompt": 2,
        },
        content_type="application/json",
    )
    evaluation = client.post(
        "/api/training/evaluations/",
        {
            "name": f"eval by {persona}",
            "sources": [{"model": generated["dir"]}, {"run": generated["run"].pk}],
            "prompts": ["hi"],
        },
        content_type="application/json",
    )
    expected = RESEARCH_CREATE[persona]
    assert (job.status_code, evaluation.status_code) == (expected, expected), (
        job.content,
        evaluation.content,
    )


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_cancel_and_scoring(as_persona, generated, persona):
    client = as_persona(persona)
    cancel = client.post(f"/api/training/generation-jobs/{generated['job'].pk}/cancel/")
    scoring = client.post(
        "/api/training/scoring-jobs/",
        {"project": generated["project"].pk, "reward_run": generated["reward"].pk},
        content_type="application/json",
    )
    assert cancel.status_code == RESEARCH_API[persona], cancel.content
    assert scoring.status_code == RESEARCH_CREATE[persona], scoring.content


def test_a_bad_job_is_a_400_with_the_reason(as_persona, generated):
    response = as_persona("researcher").post(
        "/api/training/generation-jobs/",
        {"project": generated["project"].pk, "sources": [{"model": "/no/such/dir"}]},
        content_type="application/json",
    )
    assert response.status_code == 400 and "outside the model directories" in str(
        response.json()["sources[0].model"]
    )


def test_the_schema_names_are_unique_and_warning_free():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    names = set(schema["components"]["schemas"])
    assert {"GenerationJobCreateInput", "EvaluationReportOutput", "LineageOutput"} <= names
