"""A failed run offers its trainer log, not a model (issue 13): the log page and download per
persona, confined to the run directory, small groups' lines dropped; the run page's buttons."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.access import PERSONAS, RESEARCH_PAGE
from training.models import RunStatus, TrainingRun

pytestmark = pytest.mark.django_db

LOG = "loading model\nstep 1 loss 0.69\ngroup senior: 3 rows\nRuntimeError: CUDA out of memory\n"


@pytest.fixture
def failed_run(run, settings):
    settings.CHORUS_MIN_GROUP_SIZE = 1  # every group shown (the small-group test raises it)
    run.log_path.write_text(LOG)
    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED, phase="train", step=1, total_steps=5,
        error="The trainer exited with status 1: RuntimeError: CUDA out of memory",
    )  # fmt: skip
    run.refresh_from_db()
    return run


@pytest.mark.parametrize("persona", PERSONAS)
def test_log_page(as_persona, persona, failed_run):
    response = as_persona(persona).get(reverse("training:run_log", args=[failed_run.pk]))
    assert response.status_code == RESEARCH_PAGE[persona]
    if response.status_code == 200:
        assert "RuntimeError: CUDA out of memory" in response.content.decode()


@pytest.mark.parametrize("persona", PERSONAS)
def test_log_download(as_persona, persona, failed_run):
    response = as_persona(persona).get(reverse("training:run_log_file", args=[failed_run.pk]))
    assert response.status_code == RESEARCH_PAGE[persona]
    if response.status_code == 200:
        assert b"".join(response.streaming_content).decode() == LOG
        assert response["Content-Disposition"].startswith("attachment;")


def test_a_failed_run_offers_its_log_and_no_model(as_persona, failed_run):
    html = (
        as_persona("researcher")
        .get(reverse("training:run_detail", args=[failed_run.pk]))
        .content.decode()
    )
    assert reverse("training:run_log", args=[failed_run.pk]) in html
    assert reverse("training:run_log_file", args=[failed_run.pk]) in html
    assert "Download model" not in html
    assert "Run files (zip)" in html  # its dataset and configuration stay downloadable


def test_a_succeeded_run_offers_its_model(as_persona, succeeded_run):
    html = (
        as_persona("researcher")
        .get(reverse("training:run_detail", args=[succeeded_run.pk]))
        .content.decode()
    )
    assert "Download model (zip)" in html and "Run files (zip)" not in html


def test_no_log_is_a_404(as_persona, failed_run):
    failed_run.log_path.unlink()
    client = as_persona("researcher")
    assert client.get(reverse("training:run_log", args=[failed_run.pk])).status_code == 404
    page = client.get(reverse("training:run_detail", args=[failed_run.pk])).content.decode()
    assert reverse("training:run_log", args=[failed_run.pk]) not in page


def test_the_log_never_leads_out_of_the_run_directory(as_persona, failed_run, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not the run's")
    failed_run.log_path.unlink()
    failed_run.log_path.symlink_to(secret)
    client = as_persona("researcher")
    assert client.get(reverse("training:run_log", args=[failed_run.pk])).status_code == 404
    assert client.get(reverse("training:run_log_file", args=[failed_run.pk])).status_code == 404


def test_lines_naming_a_small_group_are_dropped(as_persona, failed_run, settings):
    settings.CHORUS_MIN_GROUP_SIZE = 2
    failed_run.dataset_counts["labelers_per_group"] = {"senior": 1, "young": 3}
    failed_run.save()
    html = (
        as_persona("researcher")
        .get(reverse("training:run_log", args=[failed_run.pk]))
        .content.decode()
    )
    assert "senior" not in html and "CUDA out of memory" in html


def test_the_log_page_shows_the_end_of_a_long_log(failed_run):
    from training.selectors.runs import run_log_text

    failed_run.log_path.write_text("".join(f"line {i}\n" for i in range(1000)) + "the end\n")
    text, cut = run_log_text(failed_run, limit=100)
    assert cut and text.endswith("the end\n") and text.startswith("line ")
    assert len(text) <= 100
