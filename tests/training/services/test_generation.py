"""Generation jobs and evaluations on the Django side, with generation faked (the real models
run in the slow tests): validation, items with shuffled sides, settings recorded, the report
counted by hand, reward model vs people, lineage."""

from __future__ import annotations

from collections import Counter

import pytest
from django.core.exceptions import ValidationError

from annotation.models import Completion, Item, ProjectKind
from tests.factories import ProjectFactory, PromptFactory
from tests.training.conftest import judge
from tests.training.fixtures import fake_generate_local, finished_run
from tests.training.openai_stub import openai_stub, stub_url
from training.models import (
    CompletionScore,
    GenerationPurpose,
    InferenceEndpoint,
    RunKind,
    RunStatus,
)
from training.selectors.evaluation import evaluation_report, reward_agreement
from training.selectors.lineage import lineage
from training.services.generation import (
    evaluation_create,
    generation_job_create,
    generation_job_execute,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ml_in_process")]


@pytest.fixture
def fake_generation(monkeypatch):
    monkeypatch.setattr("training.ml.generate.generate_local", fake_generate_local)


@pytest.fixture
def model_dirs(tmp_path):
    dirs = {}
    for name in ("base", "other"):
        (tmp_path / name).mkdir()
        dirs[name] = str(tmp_path / name)
    return dirs


def _project(researcher, kind=ProjectKind.PAIRWISE, n=3, ranking_size=2):  # noqa: ANN001, ANN201
    project = ProjectFactory(created_by=researcher, kind=kind, ranking_size=ranking_size)
    for _ in range(n):
        PromptFactory(project=project)
    return project


def test_candidates_make_every_pair_with_settings_recorded(researcher, model_dirs, fake_generation):
    project = _project(researcher)
    job = generation_job_create(
        created_by=researcher, project=project, sources=[{"model": model_dirs["base"]}, {"model": model_dirs["other"]}],
        samples_per_prompt=2, sampling={"max_new_tokens": 9, "temperature": 0.7, "seed": 5},
    )  # fmt: skip
    assert (job.status, job.total) == ("queued", 3 * 2 * 2)
    generation_job_execute(job_id=job.pk, hostname="test")
    job.refresh_from_db()
    assert (job.status, job.done, job.items_created) == ("succeeded", 12, 3 * 6), (
        job.error
    )  # C(4, 2) pairs
    completion = Completion.objects.filter(prompt__project=project).first()
    assert completion.source_model == model_dirs["base"]
    assert (
        completion.generation_settings["max_new_tokens"] == 9
        and completion.generation_settings["temperature"] == 0.7
    )
    assert (
        completion.generation_settings["job"] == job.pk
        and completion.generation_settings["sample"] == 0
    )
    first_slots = Counter(
        Item.objects.get(pk=i.pk).slots.get(position=0).completion.source_model
        for i in project.items.all()
    )
    assert len(first_slots) == 2  # sides are shuffled, not always the first model in slot A


def test_ranking_projects_get_one_item_per_prompt(researcher, model_dirs, fake_generation):
    project = _project(researcher, kind=ProjectKind.RANKING, n=2, ranking_size=4)
    job = generation_job_create(
        created_by=researcher,
        project=project,
        sources=[{"model": model_dirs["base"]}],
        samples_per_prompt=4,
    )
    generation_job_execute(job_id=job.pk, hostname="test")
    assert [i.slots.count() for i in project.items.all()] == [4, 4]


def test_bad_jobs_are_refused(researcher, model_dirs, tmp_path):
    project = _project(researcher)
    with pytest.raises(ValidationError, match="at least two"):
        generation_job_create(
            created_by=researcher,
            project=project,
            sources=[{"model": model_dirs["base"]}],
            samples_per_prompt=1,
        )
    with pytest.raises(ValidationError, match="outside the model directories"):
        generation_job_create(
            created_by=researcher, project=project, sources=[{"model": "/no/such/dir"}]
        )
    with pytest.raises(ValidationError, match="not a directory"):
        generation_job_create(
            created_by=researcher, project=project, sources=[{"model": f"{tmp_path}/no-such-dir"}]
        )
    queued = finished_run(tmp_path)
    queued.status = RunStatus.RUNNING
    queued.save()
    with pytest.raises(ValidationError, match="not a succeeded policy run"):
        generation_job_create(created_by=researcher, project=project, sources=[{"run": queued.pk}])
    with pytest.raises(ValidationError, match="sampling|temperature"):
        generation_job_create(
            created_by=researcher,
            project=project,
            sources=[{"model": model_dirs["base"]}],
            sampling={"temperature": -1},
        )
    ranking = _project(researcher, kind=ProjectKind.RANKING, ranking_size=3)
    with pytest.raises(ValidationError, match="ranks 3"):
        generation_job_create(
            created_by=researcher,
            project=ranking,
            sources=[{"model": model_dirs["base"]}],
            samples_per_prompt=4,
        )


def test_an_endpoint_source_generates_through_http(researcher):
    project = _project(researcher, n=2)
    with openai_stub() as server:
        InferenceEndpoint.objects.create(name="stub", base_url=stub_url(server))
        job = generation_job_create(
            created_by=researcher,
            project=project,
            sources=[{"endpoint": "stub", "api_model": "served"}],
            samples_per_prompt=2,
        )
        generation_job_execute(job_id=job.pk, hostname="test")
    job.refresh_from_db()
    assert job.status == "succeeded" and job.items_created == 2, job.error
    completion = Completion.objects.filter(prompt__project=project).first()
    assert completion.source_model == "served@stub" and completion.text.startswith("reply 0 to")


def test_a_failing_job_records_why_and_makes_nothing(researcher, model_dirs, monkeypatch):
    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr("training.ml.generate.generate_local", broken)
    project = _project(researcher)
    job = generation_job_create(
        created_by=researcher, project=project, sources=[{"model": model_dirs["base"]}]
    )
    generation_job_execute(job_id=job.pk, hostname="test")
    job.refresh_from_db()
    assert (
        job.status == "failed" and "CUDA out of memory" in job.error and not project.items.exists()
    )
    generation_job_execute(job_id=job.pk, hostname="test")  # a redelivered message does nothing


def _evaluate(researcher, model_dirs, run):  # noqa: ANN001, ANN202
    job = evaluation_create(
        created_by=researcher, name="Round 1 eval", sources=[{"model": model_dirs["base"]}, {"run": run.pk}],
        prompts=["tell me about cats", "what is two plus two", "say hello"],
    )  # fmt: skip
    generation_job_execute(job_id=job.pk, hostname="test")
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    return job


def test_the_evaluation_report_matches_a_hand_count_per_group(
    researcher, labeler, other_labeler, groups, model_dirs, fake_generation, tmp_path, settings
):
    settings.CHORUS_MIN_GROUP_SIZE = 1
    run = finished_run(tmp_path)
    job = _evaluate(researcher, model_dirs, run)
    assert job.purpose == GenerationPurpose.EVALUATION and job.project.kind == "pairwise"
    key = f"run:{run.pk}"
    expected = {"young": Counter(), "senior": Counter()}
    for i, item in enumerate(job.project.items.all()):
        a_model = item.slots.get(position=0).completion.source_model
        for who, group, choice in (
            (labeler, "young", "a"),
            (other_labeler, "senior", ["b", "tie", "a"][i]),
        ):
            judge(item, who, choice)
            winner = {"a": a_model, "b": None, "tie": "tie"}[choice]
            if winner is None:
                winner = item.slots.get(position=1).completion.source_model
            expected[group][
                "ties" if winner == "tie" else "wins" if winner == key else "losses"
            ] += 1
    report = evaluation_report(job.project)
    assert [m["key"] for m in report["models"]] == [model_dirs["base"], key]
    by_group = {g["group"]: g["rows"][0] for g in report["groups"]}
    for group, counts in expected.items():
        row = by_group[group]  # oriented base vs run: the run's wins are the row's losses
        assert (row["losses"], row["wins"], row["ties"]) == (
            counts["wins"],
            counts["losses"],
            counts["ties"],
        )
    assert report["overall"][0]["n"] == 6 and len(report["leaderboard"]) == 2
    assert report["length_controlled"]["beta"] is not None


def test_small_groups_are_hidden_in_the_report(
    researcher, labeler, groups, model_dirs, fake_generation, tmp_path, settings
):
    settings.CHORUS_MIN_GROUP_SIZE = 2
    job = _evaluate(researcher, model_dirs, finished_run(tmp_path))
    for item in job.project.items.all():
        judge(item, labeler, "a")
    report = evaluation_report(job.project)
    assert (
        report["groups"] == []
        and report["hidden_groups"] == 1  # a count: never the small group's name
        and report["overall"][0]["n"] == 3
    )


def test_reward_model_agreement_per_group(
    researcher, labeler, other_labeler, groups, model_dirs, fake_generation, tmp_path, settings
):
    settings.CHORUS_MIN_GROUP_SIZE = 1
    reward = finished_run(tmp_path, kind=RunKind.REWARD, name="rm")
    job = _evaluate(researcher, model_dirs, finished_run(tmp_path))
    for item in job.project.items.all():
        a, b = (s.completion for s in item.slots.order_by("position"))
        CompletionScore.objects.create(completion=a, reward_run=reward, score=1.0)
        CompletionScore.objects.create(completion=b, reward_run=reward, score=0.0)
        judge(item, labeler, "a")  # agrees with the reward model
        judge(item, other_labeler, "b")  # disagrees
    result = reward_agreement(job.project, reward)
    assert (result["overall"]["agree"], result["overall"]["n"]) == (3, 6)
    assert {g["group"]: g["rate"] for g in result["groups"]} == {"young": 1.0, "senior": 0.0}


def test_lineage_links_rounds_snapshot_and_evaluations(
    researcher, model_dirs, fake_generation, tmp_path, settings
):
    settings.CHORUS_MIN_GROUP_SIZE = 1
    first = finished_run(tmp_path, name="round 1")
    second = finished_run(tmp_path, name="round 2", base_model=first.artifacts_dir)
    _evaluate(researcher, model_dirs, second)
    found = lineage(researcher, second.pk)
    assert found["parent"] == first and found["snapshot"]["judgments"] == 6
    assert {g["group"]: g["labelers"] for g in found["snapshot"]["groups"]} == {
        "young": 1,
        "senior": 1,
    }
    (evaluation,) = found["evaluations"]
    assert (
        evaluation["project"].name == "Round 1 eval" and evaluation["rows"] == []
    )  # not judged yet
    assert lineage(researcher, first.pk)["children"] == [second]


def test_an_evaluation_can_copy_held_out_prompts_from_a_project(
    researcher, model_dirs, fake_generation, tmp_path
):
    source = _project(researcher, n=2)
    held_out = list(source.prompts.all())
    job = evaluation_create(
        created_by=researcher, name="Held out", sources=[{"model": model_dirs["base"]}, {"model": model_dirs["other"]}],
        source_prompts=held_out,
    )  # fmt: skip
    generation_job_execute(job_id=job.pk, hostname="test")
    copies = list(job.project.prompts.order_by("id"))
    assert [c.turns.get().content for c in copies] == [p.turns.get().content for p in held_out]
    assert job.project.items.count() == 2 and not source.items.exists()
    assert job.project.current_guidelines.version == 1  # made by project_create, as any project
    with pytest.raises(ValidationError, match="two or more models"):
        evaluation_create(
            created_by=researcher,
            name="One model",
            sources=[{"model": model_dirs["base"]}],
            prompts=["hi"],
        )


def test_accepted_written_prompts_feed_a_generation_job(researcher, labeler, model_dirs):
    from annotation.services.written import written_prompt_create, written_prompt_review

    writing = ProjectFactory(kind=ProjectKind.PROMPT_WRITING)
    texts = ["Write a haiku about rain", "Explain tides", "rejected one"]
    for n, text in enumerate(texts):
        w = written_prompt_create(project=writing, author=labeler, kind="plain", text=text)
        written_prompt_review(written=w, reviewer=researcher, accept=n < 2, note="no")
    target = _project(researcher, n=1)
    sources = [{"model": model_dirs["base"]}, {"model": model_dirs["other"]}]
    job = generation_job_create(
        created_by=researcher, project=target, sources=sources, samples_per_prompt=1,
        written_from=writing,
    )  # fmt: skip
    copied = [target.prompts.get(pk=pk).turns.get().content for pk in job.prompt_ids]
    assert sorted(copied) == sorted(texts[:2])
    with pytest.raises(ValidationError) as exc:
        generation_job_create(
            created_by=researcher, project=target, sources=sources,
            written_from=ProjectFactory(kind=ProjectKind.PROMPT_WRITING),
        )  # fmt: skip
    assert "written_from" in exc.value.message_dict
