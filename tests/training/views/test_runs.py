"""Access per persona for every page of training runs, and what each one shows."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.urls import reverse

from tests.access import PERSONAS, RESEARCH_PAGE, RESEARCH_POST
from training.models import RunStatus, TrainingRun

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("persona", PERSONAS)
def test_run_list_page(as_persona, persona, run):
    response = as_persona(persona).get(reverse("training:run_list"))
    assert response.status_code == RESEARCH_PAGE[persona]
    if response.status_code == 200:
        assert b"happy rm" in response.content and b'hx-trigger="every 2s"' in response.content


@pytest.mark.parametrize("persona", PERSONAS)
def test_run_new_page(as_persona, persona, judged_project):
    response = as_persona(persona).get(reverse("training:run_new"))
    assert response.status_code == RESEARCH_PAGE[persona]


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
    assert response.status_code == RESEARCH_POST[persona]
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
    assert response.status_code == 400
    assert "did you mean &#x27;learning_rate&#x27;" in response.content.decode()
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_run_detail_page(as_persona, persona, succeeded_run):
    response = as_persona(persona).get(reverse("training:run_detail", args=[succeeded_run.pk]))
    assert response.status_code == RESEARCH_PAGE[persona]
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


def test_small_groups_are_hidden_from_the_report(as_persona, succeeded_run, settings):
    settings.CHORUS_MIN_GROUP_SIZE = 2  # each group has one labeler in the snapshot
    html = (
        as_persona("researcher")
        .get(reverse("training:run_detail", args=[succeeded_run.pk]))
        .content.decode()
    )
    assert "2 groups with fewer than 2 labelers hidden" in html
    assert "young" not in html.split("Dataset snapshot")[0]


@pytest.mark.parametrize("persona", PERSONAS)
def test_run_cancel(as_persona, persona, run):
    response = as_persona(persona).post(reverse("training:run_cancel", args=[run.pk]))
    assert response.status_code == RESEARCH_POST[persona]
    run.refresh_from_db()
    assert (run.status == RunStatus.CANCELLED) == (persona in ("researcher", "admin_user"))


@pytest.mark.parametrize("persona", PERSONAS)
def test_run_download(as_persona, persona, succeeded_run):
    response = as_persona(persona).get(reverse("training:run_download", args=[succeeded_run.pk]))
    assert response.status_code == RESEARCH_PAGE[persona]
    if response.status_code == 200:
        archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
        names = set(archive.namelist())
        prefix = f"run-{succeeded_run.pk}/"
        assert {prefix + n for n in ("config.json", "dataset.jsonl", "model.safetensors")} <= names
        assert prefix + "CANCEL" not in names
        assert archive.read(prefix + "model.safetensors") == b"\0" * 1000


def test_download_waits_for_the_end(as_persona, run):
    assert (
        as_persona("researcher").get(reverse("training:run_download", args=[run.pk])).status_code
        == 404
    )


def test_run_list_fragment_for_htmx(as_persona, run):
    response = as_persona("researcher").get(reverse("training:run_list"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<table class="table" id="runs"') and "happy rm" in html
