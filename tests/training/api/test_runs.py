"""Access per persona for every endpoint of the training-run API, and what each one answers."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from tests.access import PERSONAS, RESEARCH_API, RESEARCH_CREATE

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_run_list(as_persona, persona, run):
    response = as_persona(persona).get("/api/training/runs/")
    assert response.status_code == RESEARCH_API[persona]
    if response.status_code == 200:
        body = response.json()
        assert body["count"] == 1 and body["results"][0]["name"] == "happy rm"


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_run_create(
    as_persona, persona, judged_project, groups, base_model_dir, runs_dir, settings
):
    settings.CHORUS_MIN_GROUP_SIZE = 1  # one labeler per group here
    payload = {
        "kind": "reward",
        "base_model": base_model_dir,
        "projects": [judged_project.pk],
        "labeler_groups": [groups["senior"].pk],
        "per_group": True,
        "hyperparameters": {"max_steps": 2},
    }
    response = as_persona(persona).post(
        "/api/training/runs/", payload, content_type="application/json"
    )
    assert response.status_code == RESEARCH_CREATE[persona]
    if response.status_code == 201:
        body = response.json()
        assert body["status"] == "queued" and body["labeler_groups"] == ["senior"]
        assert body["dataset_counts"]["rows"] == 8


def test_api_create_explains_what_is_wrong(as_persona, judged_project, base_model_dir, runs_dir):
    client = as_persona("researcher")
    payload = {"kind": "ppo", "base_model": base_model_dir, "projects": [judged_project.pk]}
    response = client.post("/api/training/runs/", payload, content_type="application/json")
    assert response.status_code == 400 and "reward_run" in response.json()
    payload = {
        "kind": "dpo",
        "base_model": base_model_dir,
        "projects": [judged_project.pk],
        "hyperparameters": {"beta": -1},
    }
    response = client.post("/api/training/runs/", payload, content_type="application/json")
    assert response.status_code == 400 and "beta" in response.json()["hyperparameters.beta"][0]


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_run_detail(as_persona, persona, succeeded_run):
    response = as_persona(persona).get(f"/api/training/runs/{succeeded_run.pk}/")
    assert response.status_code == RESEARCH_API[persona]
    if response.status_code == 200:
        body = response.json()
        assert body["metrics"]["train/loss"][0] == [1, pytest.approx(0.65)]
        assert body["final_metrics"]["eval/accuracy"] == 0.8
        assert body["group_report"]["matrix"]["columns"] == ["senior", "young"]
        assert body["config"]["max_steps"] == 5


def test_api_detail_of_a_missing_run_is_404(as_persona, run):
    assert as_persona("researcher").get(f"/api/training/runs/{run.pk + 1}/").status_code == 404


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_run_cancel(as_persona, persona, run):
    response = as_persona(persona).post(f"/api/training/runs/{run.pk}/cancel/")
    assert response.status_code == RESEARCH_API[persona]
    if response.status_code == 200:
        assert response.json()["status"] == "cancelled"
        again = as_persona(persona).post(f"/api/training/runs/{run.pk}/cancel/")
        assert again.status_code == 409


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_run_artifacts(as_persona, persona, succeeded_run):
    response = as_persona(persona).get(f"/api/training/runs/{succeeded_run.pk}/artifacts/")
    assert response.status_code == RESEARCH_API[persona]
    if response.status_code == 200:
        assert response["Content-Type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
        config = json.loads(archive.read(f"run-{succeeded_run.pk}/config.json"))
        assert config["base_model"] == succeeded_run.base_model


def test_api_schema_lists_the_training_endpoints(as_persona):
    schema = as_persona("researcher").get("/api/schema/").content.decode()
    for path in (
        "/api/training/runs/",
        "/api/training/runs/{run_id}/cancel/",
        "/api/training/runs/{run_id}/artifacts/",
    ):
        assert path in schema
