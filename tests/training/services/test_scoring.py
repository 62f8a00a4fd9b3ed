"""Scoring a project in the background with a reward run: reward model vs people, bad input,
and a cancel that keeps the chunks already stored. Scoring is faked."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from annotation.models import ProjectKind
from tests.factories import ProjectFactory, item_create
from tests.training.conftest import judge
from tests.training.fixtures import (
    fake_score_local_with_uncertainty,
    finished_run,
)
from training.models import CompletionScore, GenerationJob, RunKind, RunStatus
from training.services import scoring
from training.services.generation import (
    generation_job_cancel,
    generation_job_execute,
)
from training.services.scoring import scoring_job_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ml_in_process")]


def test_scoring_a_project_in_the_background_shows_reward_vs_people(
    as_persona, researcher, labeler, tmp_path, monkeypatch
):
    monkeypatch.setattr(
        "training.ml.score.score_local_with_uncertainty", fake_score_local_with_uncertainty
    )
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
    assert "Each score comes with an uncertainty" in page  # the fake's: a tenth of the score
    assert CompletionScore.objects.filter(uncertainty__isnull=True).count() == 0
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
        return fake_score_local_with_uncertainty(path, pairs, on_batch=on_batch)

    monkeypatch.setattr("training.ml.score.score_local_with_uncertainty", scores)
    reward = finished_run(tmp_path, kind=RunKind.REWARD, name="rm")
    project = ProjectFactory(created_by=researcher)
    for _ in range(3):
        item_create(project)
    job = scoring_job_create(created_by=researcher, project=project, reward_run=reward)
    generation_job_execute(job_id=job.pk, hostname="w")
    job.refresh_from_db()
    assert (job.status, job.done, CompletionScore.objects.count()) == (RunStatus.CANCELLED, 2, 2)
