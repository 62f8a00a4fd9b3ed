"""Fixtures of the training (Django side) tests: judged projects, groups, a tiny base model."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from annotation.models import Completion, Judgment, JudgmentRank, JudgmentSource, ProjectKind
from annotation.services.labelers import labeler_group_create
from tests.factories import ProjectFactory, PromptFactory, item_create
from tests.training.fixtures import finished_run
from training.models import (
    GenerationJob,
    GenerationPurpose,
    RunKind,
    RunMetric,
    RunStatus,
    TrainingRun,
)
from training.services.runs import run_create


def judge(
    item, labeler=None, choice: str = "", ranks: Sequence[int] = (), demonstration: str = ""
) -> Judgment:  # noqa: ANN001
    """A judgment on `item`: pairwise `choice`, or `ranks` (rank of each canonical position)."""
    scale = {"a": 2, "b": 7}.get(choice)
    judgment = Judgment.objects.create(
        item=item,
        labeler=labeler,
        source=JudgmentSource.HUMAN if labeler else JudgmentSource.EXTERNAL,
        external_source="" if labeler else "hh-rlhf",
        pairwise_choice=choice,
        scale=scale if labeler else None,
        demonstration=demonstration,
    )
    for position, rank in enumerate(ranks):
        JudgmentRank.objects.create(judgment=judgment, position=position, rank=rank)
    return judgment


@pytest.fixture
def groups(db, labeler, other_labeler):
    """'young' holds the labeler (18-29, by rule), 'senior' the other labeler (60+, by rule)."""
    return {
        "young": labeler_group_create(name="young", rules={"age_range": ["18-29"]}),
        "senior": labeler_group_create(name="senior", rules={"age_range": ["60+"]}),
    }


def preference_project(researcher, labelers, n: int = 8, name: str = "Happy or sad"):  # noqa: ANN001, ANN201
    """A pairwise project of `n` items where every labeler prefers the reply saying 'happy'."""
    project = ProjectFactory(name=name, created_by=researcher, kind=ProjectKind.PAIRWISE)
    nouns = "cat dog bird fish tree house car road city river sun moon star water fire".split()
    for i in range(n):
        noun = nouns[i % len(nouns)]
        happy, sad = f"the {noun} is happy and good", f"the {noun} is sad and bad"
        texts, choice = ((happy, sad), "a") if i % 2 == 0 else ((sad, happy), "b")
        item = item_create(project, texts=texts)
        for labeler in labelers:
            judge(item, labeler, choice)
    return project


@pytest.fixture
def judged_project(researcher, labeler, other_labeler, groups):
    return preference_project(researcher, [labeler, other_labeler])


@pytest.fixture
def base_model_dir(tmp_path):
    """A directory that passes the base-model check (no trainer runs in fast tests)."""
    path = tmp_path / "model"
    path.mkdir()
    return str(path)


@pytest.fixture(scope="session")
def tiny_base_model(tmp_path_factory):
    """A real tiny causal LM and tokenizer in Hugging Face format (imports torch: slow tests)."""
    from training.ml.tiny import build_tiny_causal_lm

    return str(build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-base")))


@pytest.fixture
def runs_dir(settings, tmp_path):
    settings.CHORUS_RUNS_DIR = tmp_path / "runs"
    return settings.CHORUS_RUNS_DIR


@pytest.fixture
def ml_in_process(monkeypatch):
    """Generation jobs run `python -m training.ml` in the test's thread (fakes apply)."""
    from tests.training.fixtures import relay_in_process

    monkeypatch.setattr("training.worker.relay_process", relay_in_process)


@pytest.fixture
def run(make_run):
    return make_run(hyperparameters={"max_steps": 5, "eval_fraction": 0.5}, name="happy rm")


@pytest.fixture
def succeeded_run(run, settings):
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


@pytest.fixture
def group_reward_run(tmp_path, settings):
    """A succeeded per-group reward run with models for 'young' (2 labelers) and 'senior'
    (1 labeler: below CHORUS_MIN_GROUP_SIZE = 2, so never offered), laid out as the trainer
    saves them."""
    settings.CHORUS_MIN_GROUP_SIZE = 2
    run = finished_run(tmp_path, kind=RunKind.REWARD, name="rm per group")
    dirs = {"young": "groups/01-young", "senior": "groups/02-senior"}
    for path in [run.run_dir, *(run.run_dir / d for d in dirs.values())]:
        path.mkdir(parents=True, exist_ok=True)
        (path / "config.json").write_text("{}")
    run.per_group = True
    run.dataset_counts["labelers_per_group"] = {"young": 2, "senior": 1}
    run.final_metrics = {"eval/accuracy": 0.7, "group_dirs": dirs}
    run.save()
    return run


@pytest.fixture
def generated(researcher, tmp_path):
    """A project with an evaluation job, a finished policy run and a reward run."""
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


@pytest.fixture
def make_run(judged_project, researcher, base_model_dir, runs_dir):
    def make(**overrides) -> TrainingRun:  # noqa: ANN003
        options = {
            "created_by": researcher,
            "kind": "reward",
            "base_model": base_model_dir,
            "projects": [judged_project],
            "hyperparameters": {"max_steps": 3, "eval_fraction": 0.5},
        }
        return run_create(**{**options, **overrides})

    return make


@pytest.fixture
def model_dir(tmp_path):
    (tmp_path / "base").mkdir()
    return str(tmp_path / "base")


@pytest.fixture
def pairwise(researcher):
    project = ProjectFactory(created_by=researcher, kind=ProjectKind.PAIRWISE, name="Candidates")
    for _ in range(3):
        PromptFactory(project=project)
    return project
