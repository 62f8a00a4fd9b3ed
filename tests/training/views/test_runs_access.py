"""Access per persona for every training page and endpoint, and what each one shows."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.urls import reverse

from tests.conftest import PERSONAS
from training.models import RunMetric, RunStatus, TrainingRun
from training.services.runs import run_create

pytestmark = pytest.mark.django_db

PAGE = {
    "researcher": 200,
    "admin_user": 200,
    "labeler": 404,
    "other_labeler": 404,
    "outsider": 404,
    "anonymous": 302,
}
API = {
    "researcher": 200,
    "admin_user": 200,
    "labeler": 403,
    "other_labeler": 403,
    "outsider": 403,
    "anonymous": 403,
}


@pytest.fixture
def run(judged_project, researcher, base_model_dir, runs_dir):
    return run_create(
        created_by=researcher,
        kind="reward",
        base_model=base_model_dir,
        projects=[judged_project],
        hyperparameters={"max_steps": 5, "eval_fraction": 0.5},
        name="happy rm",
    )


@pytest.fixture
def finished_run(run, settings):
    """The run as a worker leaves it: succeeded, with curves, group accuracy and a 'model'."""
    settings.CHORUS_MIN_GROUP_SIZE = 1
    (run.run_dir / "model.safetensors").write_bytes(b"\0" * 1000)
    (run.run_dir / "CANCEL").touch()
    RunMetric.objects.bulk_create(
        RunMetric(run=run, name=name, step=step, value=value)
        for step in range(1, 6)
        for name, value in (("train/loss", 0.7 - step / 20), ("train/accuracy", 0.5 + step / 20))
    )
    final = {
        "eval/accuracy": 0.8,
        "group_accuracy": {"senior": 0.75, "young": 0.85},
        "cross_group_accuracy": {
            "pooled": {"senior": 0.75, "young": 0.85},
            "senior": {"senior": 0.8, "young": 0.4},
            "young": {"senior": 0.55, "young": 0.9},
        },
    }
    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED, step=5, total_steps=5, final_metrics=final, per_group=True
    )
    run.refresh_from_db()
    return run


@pytest.mark.parametrize("persona", PERSONAS)
def test_run_list_page(as_persona, persona, run):
    response = as_persona(persona).get(reverse("training:run_list"))
    assert response.status_code == PAGE[persona]
    if response.status_code == 200:
        assert b"happy rm" in response.content and b'hx-trigger="every 2s"' in response.content


@pytest.mark.parametrize("persona", PERSONAS)
def test_run_new_page(as_persona, persona, judged_project):
    response = as_persona(persona).get(reverse("training:run_new"))
    assert response.status_code == PAGE[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_run_create_form(as_persona, persona, judged_project, base_model_dir, runs_dir):
    data = {
        "kind": "dpo",
        "base_model": base_model_dir,
        "projects": [judged_project.pk],
        "tie_policy": "skip",
        "both_bad_policy": "skip",
        "include_external": "on",
        "hyperparameters": '{"max_steps": 2, "beta": 0.2}',
    }
    response = as_persona(persona).post(reverse("training:run_new"), data)
    assert response.status_code == {**PAGE, "researcher": 302, "admin_user": 302}[persona]
    assert TrainingRun.objects.exists() == (response.status_code == 302 and persona != "anonymous")
    if persona == "researcher":
        run = TrainingRun.objects.get()
        assert response["Location"] == reverse("training:run_detail", args=[run.pk])
        assert run.config["beta"] == 0.2 and run.dataset_counts["rows"] == 16


def test_run_create_form_shows_the_configs_complaint(
    as_persona, judged_project, base_model_dir, runs_dir
):
    data = {"kind": "reward", "base_model": base_model_dir, "projects": [judged_project.pk],
            "tie_policy": "skip", "both_bad_policy": "skip", "hyperparameters": '{"lr": 1}'}  # fmt: skip
    response = as_persona("researcher").post(reverse("training:run_new"), data)
    assert response.status_code == 200
    assert "did you mean &#x27;learning_rate&#x27;" in response.content.decode()
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_run_detail_page(as_persona, persona, finished_run):
    response = as_persona(persona).get(reverse("training:run_detail", args=[finished_run.pk]))
    assert response.status_code == PAGE[persona]
    if response.status_code == 200:
        html = response.content.decode()
        assert "Cross-group accuracy" in html and "<polyline" in html and "Download model" in html
        assert 'hx-trigger="every 2s"' not in html  # it has ended: no polling


def test_run_detail_polls_while_active_and_serves_the_fragment(as_persona, run):
    client = as_persona("researcher")
    page = client.get(reverse("training:run_detail", args=[run.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in page and "Cancel run" in page
    fragment = client.get(reverse("training:run_detail", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert fragment.content.decode().lstrip().startswith('<div id="live"')
    assert "Dataset snapshot" not in fragment.content.decode()
    assert "HX-Request" in fragment["Vary"]


def test_small_groups_are_hidden_from_the_report(as_persona, finished_run, settings):
    settings.CHORUS_MIN_GROUP_SIZE = 2  # each group has one labeler in the snapshot
    html = (
        as_persona("researcher")
        .get(reverse("training:run_detail", args=[finished_run.pk]))
        .content.decode()
    )
    assert "2 groups with fewer than 2 labelers hidden" in html
    assert "young" not in html.split("Dataset snapshot")[0]


@pytest.mark.parametrize("persona", PERSONAS)
def test_run_cancel(as_persona, persona, run):
    response = as_persona(persona).post(reverse("training:run_cancel", args=[run.pk]))
    assert response.status_code == {**PAGE, "researcher": 302, "admin_user": 302}[persona]
    run.refresh_from_db()
    assert (run.status == RunStatus.CANCELLED) == (persona in ("researcher", "admin_user"))


@pytest.mark.parametrize("persona", PERSONAS)
def test_run_download(as_persona, persona, finished_run):
    response = as_persona(persona).get(reverse("training:run_download", args=[finished_run.pk]))
    assert response.status_code == PAGE[persona]
    if response.status_code == 200:
        archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
        names = set(archive.namelist())
        prefix = f"run-{finished_run.pk}/"
        assert {prefix + n for n in ("config.json", "dataset.jsonl", "model.safetensors")} <= names
        assert prefix + "CANCEL" not in names
        assert archive.read(prefix + "model.safetensors") == b"\0" * 1000


def test_download_waits_for_the_end(as_persona, run):
    assert (
        as_persona("researcher").get(reverse("training:run_download", args=[run.pk])).status_code
        == 404
    )


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_run_list(as_persona, persona, run):
    response = as_persona(persona).get("/api/training/runs/")
    assert response.status_code == API[persona]
    if response.status_code == 200:
        body = response.json()
        assert body["count"] == 1 and body["results"][0]["name"] == "happy rm"


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_run_create(as_persona, persona, judged_project, groups, base_model_dir, runs_dir):
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
    assert response.status_code == {**API, "researcher": 201, "admin_user": 201}[persona]
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
    assert response.status_code == 400 and "beta" in response.json()["hyperparameters"][0]


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_run_detail(as_persona, persona, finished_run):
    response = as_persona(persona).get(f"/api/training/runs/{finished_run.pk}/")
    assert response.status_code == API[persona]
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
    assert response.status_code == API[persona]
    if response.status_code == 200:
        assert response.json()["status"] == "cancelled"
        again = as_persona(persona).post(f"/api/training/runs/{run.pk}/cancel/")
        assert again.status_code == 409


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_run_artifacts(as_persona, persona, finished_run):
    response = as_persona(persona).get(f"/api/training/runs/{finished_run.pk}/artifacts/")
    assert response.status_code == API[persona]
    if response.status_code == 200:
        assert response["Content-Type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
        config = json.loads(archive.read(f"run-{finished_run.pk}/config.json"))
        assert config["base_model"] == finished_run.base_model


def test_api_schema_lists_the_training_endpoints(as_persona):
    schema = as_persona("researcher").get("/api/schema/").content.decode()
    for path in (
        "/api/training/runs/",
        "/api/training/runs/{run_id}/cancel/",
        "/api/training/runs/{run_id}/artifacts/",
    ):
        assert path in schema


def test_run_list_fragment_for_htmx(as_persona, run):
    response = as_persona("researcher").get(reverse("training:run_list"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<table class="table" id="runs"') and "happy rm" in html
