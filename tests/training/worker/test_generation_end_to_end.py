"""The loop end to end on a real Celery worker with a tiny model: the base model writes the
candidates, labelers judge them through the labelers' API, a DPO run trains on the judgments,
the trained model and the base model go into a blind evaluation, labelers judge it, and the
report's win rates per group match the judgments counted by hand. The lineage of the trained
model shows the snapshot and the evaluation."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest
from django.test import Client

from annotation.models import Judgment, ProjectKind
from tests.factories import ProjectFactory, PromptFactory
from tests.worker import celery_worker, wait_for_row
from training.models import GenerationJob, RunStatus, TrainingRun

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ENDED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)
SAMPLING = {"max_new_tokens": 8, "batch_size": 8, "seed": 0, "temperature": 1.0}


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client: Client, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def _ended(model: Any, pk: int, worker: Any, timeout: float = 240) -> Any:
    found = wait_for_row(model, pk, worker, timeout=timeout, status__in=ENDED)
    assert found.status == RunStatus.SUCCEEDED, found.error
    return found


def _label_all(client: Client, project_id: int, pick: Any) -> int:
    """Judge every item the API hands this labeler; `pick(responses, i)` gives the choice."""
    judged = 0
    while True:
        item = client.get(f"/api/label/projects/{project_id}/next/").json()["item"]
        if item is None:
            return judged
        texts = [r["text"] for r in item["responses"]]
        body = {"client_key": str(uuid.uuid4()), "choice": pick(texts, judged)}
        response = client.post(
            f"/api/label/items/{item['id']}/judgments/", body, content_type="application/json"
        )
        assert response.status_code == 201, response.content
        judged += 1


def _shorter_is_better(texts: list[str], i: int) -> int:
    return 1 if len(texts[0]) <= len(texts[1]) else 8  # 1: Response 1 much better; 8: Response 2


def _mixed(texts: list[str], i: int) -> Any:
    return ["tie", 2, 7, "both_bad"][i % 4]


def _hand_count(
    project_id: int, labeler_groups: dict[int, str], model: str
) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = {g: Counter() for g in labeler_groups.values()}
    for judgment in Judgment.objects.filter(item__project_id=project_id).select_related("item"):
        models = {
            s.position: s.completion.source_model
            for s in judgment.item.slots.select_related("completion")
        }
        group = counts[labeler_groups[judgment.labeler_id]]
        if judgment.pairwise_choice in ("tie", "both_bad"):
            group["ties"] += 1
        else:
            preferred = models[0 if judgment.pairwise_choice == "a" else 1]
            group["wins" if preferred == model else "losses"] += 1
    return counts


def test_the_loop_from_generation_to_an_evaluation_report(
    researcher, labeler, other_labeler, groups, tiny_base_model, runs_dir, settings
):
    settings.CHORUS_MIN_GROUP_SIZE = 1  # one labeler per group here
    api = _client(researcher)
    project = ProjectFactory(
        name="Round 1 candidates",
        kind=ProjectKind.PAIRWISE,
        created_by=researcher,
        overlap_target=2,
    )
    for noun in ("cat", "dog", "sun", "river"):
        PromptFactory(project=project, turns=[("user", f"tell me about the {noun}")])

    with celery_worker(queues="default,training") as worker:
        # 1. The base model writes two candidates per prompt.
        job = _post(
            api,
            "/api/training/generation-jobs/",
            {
                "project": project.pk,
                "sources": [{"model": tiny_base_model}],
                "samples_per_prompt": 2,
                "sampling": SAMPLING,
            },
        )
        job = _ended(GenerationJob, job["id"], worker)
        assert (job.done, job.items_created) == (8, 4)
        # 2. Labelers judge them through the labelers' API.
        assert _label_all(_client(labeler), project.pk, _shorter_is_better) == 4
        assert _label_all(_client(other_labeler), project.pk, _shorter_is_better) == 4
        # 3. DPO trains on the judgments.
        run = _post(api, "/api/training/runs/", {
            "kind": "dpo", "name": "dpo round 1", "base_model": tiny_base_model, "projects": [project.pk],
            "hyperparameters": {"batch_size": 2, "max_steps": 2, "eval_fraction": 0.0, "learning_rate": 1e-3},
        })  # fmt: skip
        run = _ended(TrainingRun, run["id"], worker)
        # 4. The trained model and the base model, blind, on held-out prompts.
        evaluation = _post(api, "/api/training/evaluations/", {
            "name": "Round 1 evaluation", "sources": [{"model": tiny_base_model}, {"run": run.pk}],
            "prompts": ["say hello", "what is two plus two", "tell me about the moon", "help me sleep"],
            "sampling": SAMPLING, "overlap_target": 2,
        })  # fmt: skip
        evaluation = _ended(GenerationJob, evaluation["id"], worker)
    assert evaluation.items_created == 4
    eval_project = evaluation.project_id
    # 5. Judgments come in.
    assert _label_all(_client(labeler), eval_project, lambda texts, i: 1) == 4
    assert _label_all(_client(other_labeler), eval_project, _mixed) == 4

    # 6. The report's win rates per group match a hand count.
    expected = _hand_count(
        eval_project, {labeler.pk: "young", other_labeler.pk: "senior"}, f"run:{run.pk}"
    )
    report = api.get(f"/api/training/evaluations/{eval_project}/report/").json()
    assert [m["key"] for m in report["models"]] == [tiny_base_model, f"run:{run.pk}"]
    for group in report["groups"]:
        (row,) = group["rows"]  # base vs the DPO model: the DPO model's wins are the row's losses
        counts = expected[group["group"]]
        assert (row["losses"], row["wins"], row["ties"]) == (
            counts["wins"],
            counts["losses"],
            counts["ties"],
        )
        assert row["rate"] == pytest.approx((row["wins"] + row["ties"] / 2) / 4)
    assert {g["group"] for g in report["groups"]} == {"young", "senior"}
    assert report["comparisons"] == 8 and len(report["leaderboard"]) == 2
    senior = next(g for g in report["groups"] if g["group"] == "senior")["rows"][0]
    assert senior["ties"] == 2  # "about the same" and "both bad" count as ties
    page = api.get(f"/training/loop/projects/{eval_project}/").content.decode()
    assert 'data-group="young"' in page and 'data-group="senior"' in page and "dpo round 1" in page

    # 7. Completions record their model and sampling settings; labelers never see the model.
    completion = evaluation.project.prompts.first().completions.first()
    assert completion.generation_settings["max_new_tokens"] == 8 and completion.source_model
    assert tiny_base_model not in str(
        _client(labeler).get(f"/api/label/projects/{eval_project}/next/").json()
    )

    # 8. The lineage of the trained model: snapshot, labelers by group (counts), evaluation.
    lineage = api.get(f"/api/training/runs/{run.pk}/lineage/").json()
    assert lineage["snapshot"]["judgments"] == 8 and lineage["snapshot"]["projects"] == [project.pk]
    assert {g["group"]: g["labelers"] for g in lineage["snapshot"]["groups"]} == {
        "young": 1,
        "senior": 1,
    }
    assert [(w["key"], w["completions"]) for w in lineage["writers"]] == [(tiny_base_model, 8)]
    assert [e["project"] for e in lineage["evaluations"]] == [eval_project]
