"""Writes of reward scoring: a succeeded reward run scores completions (CompletionScore), shown
as "reward model vs people" in a project's evaluation report.

- `scoring_job_create`: a background job (a GenerationJob of purpose SCORING) in which a
  reward run scores the completions a project already has and it has not scored.
- `score_project` (that job, on the training queue): scores and stores per chunk of
  SCORE_CHUNK, one child (one model load) per chunk, and keeps the chunks scored before a cancel.
- `completions_score`: score some completions in a child process `python -m training.ml score`
  (training/worker.py), heartbeating for the job; generation jobs with a reward run call it on
  the completions they made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError

from annotation.models import Completion, Project
from config.dispatch import dispatch_on_commit
from training.models import (
    CompletionScore,
    GenerationJob,
    GenerationPurpose,
    RunKind,
    RunStatus,
    TrainingRun,
)
from training.selectors.generation import prompt_conversations
from training.worker import checkpoint, child_rows

SCORE_CHUNK = 512  # completions a SCORING job scores and stores at a time (the cancel points)


def scoring_job_create(
    *, created_by: Any, project: Project, reward_run: TrainingRun
) -> GenerationJob:
    """Queue a job in which `reward_run` scores the project's completions it has not scored."""
    if reward_run.kind != RunKind.REWARD or reward_run.status != RunStatus.SUCCEEDED:
        raise ValidationError({"reward_run": "Choose a succeeded reward-model run."})
    completions = Completion.objects.filter(prompt__project=project)
    if not completions.exists():
        raise ValidationError({"project": "The project has no completions to score."})
    job = GenerationJob(
        project=project, purpose=GenerationPurpose.SCORING, sources=[], samples_per_prompt=1,
        reward_run=reward_run, created_by=created_by,
        total=completions.exclude(reward_scores__reward_run=reward_run).count(),
    )  # fmt: skip
    job.full_clean(exclude=["sources", "prompt_ids", "sampling"])  # empty: nothing is sampled
    job.save()
    from training.tasks import generation_job_task

    dispatch_on_commit(generation_job_task, job)
    return job


def score_project(job: GenerationJob) -> None:
    """A SCORING job: score the project's completions the reward run has not scored, by chunks."""
    assert job.reward_run is not None  # scoring_job_create requires it
    todo = list(
        Completion.objects.filter(prompt__project=job.project)
        .exclude(reward_scores__reward_run=job.reward_run)
        .order_by("pk")
    )
    job.total = len(todo)
    checkpoint(job, total=job.total)
    for start in range(0, len(todo), SCORE_CHUNK):
        completions_score(
            reward_run=job.reward_run, completions=todo[start : start + SCORE_CHUNK], job=job,
            stoppable=True,
        )  # fmt: skip
        checkpoint(job, done=min(len(todo), start + SCORE_CHUNK))


def completions_score(
    *,
    reward_run: TrainingRun,
    completions: Sequence[Completion],
    job: GenerationJob,
    stoppable: bool = False,
) -> int:
    """Score completions with a reward run's model (stored as CompletionScore), in a child
    process heartbeating for `job`; returns how many. With `stoppable`, a cancel of the job
    stops it (JobStopped) and stores nothing."""
    if not completions:
        return 0
    ids = sorted({c.prompt_id for c in completions})
    conversations = dict(zip(ids, prompt_conversations(ids), strict=True))
    rows = [{"prompt": conversations[c.prompt_id], "completion": c.text} for c in completions]
    config = {"model": str(reward_run.run_dir)}
    scored = child_rows(job, "score", config, rows, stoppable=stoppable)
    CompletionScore.objects.bulk_create(
        [
            CompletionScore(
                completion=c,
                reward_run=reward_run,
                score=r["score"],
                uncertainty=r.get("uncertainty"),
            )  # fmt: skip
            for c, r in zip(completions, scored, strict=True)
        ],
        ignore_conflicts=True,
    )
    return len(scored)
