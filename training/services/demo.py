"""The training side of the demo: real runs to look at, trained by the worker at start.

`make run` (training/management/commands/chorus_start.py) calls `demo_training_queue` after
`annotation.services.demo.demo_seed`, before serving. Unless they exist, it makes:

1. a reward run and a DPO run of the "demo" preset (training/ml/presets.py) on the planted
   project "Concise or detailed (planted)", on the tiny demo model (training/ml/tiny.py), both
   groups pooled, through `run_create` (dataset frozen, task queued): the worker trains them
   as any run (a few minutes on two busy CPU cores; the runs page shows them live).
2. a `demo_evaluation_task` on the training queue, after them, that runs `demo_evaluation_build`:
   it executes a demo run still queued (`run_execute`: a run another message already claimed
   is left alone), then, once the DPO run has succeeded, makes the evaluation project "Demo
   evaluation: tiny base vs DPO" (`evaluation_create`, then `generation_job_execute`): one
   completion per model for EVAL_PROMPTS of the planted project's questions, blind pairs. The
   twelve demo labelers judge them with their planted taste applied to the real generated text
   (Under 30 prefers the shorter completion, 45 and over the longer, each 85 % consistent), so
   the per-group leaderboard reflects what each model writes.

A run that failed or was interrupted is left as it is (its page says why); a second start
neither duplicates nor retrains anything.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from annotation.demo.planted import OLDER, YOUNG
from annotation.models import Item, Project
from annotation.services.demo import PLANTED_PROJECT, pairwise_simulate
from training.models import (
    GenerationJob,
    InferenceSource,
    RunKind,
    RunStatus,
    SourceKind,
    TrainingRun,
)
from training.services.generation import evaluation_create, generation_job_execute
from training.services.inference import source_check
from training.services.runs import hyperparameters_parse, run_create, run_execute

logger = logging.getLogger(__name__)

REWARD_RUN, DPO_RUN = "Demo reward model (demo preset)", "Demo DPO policy (demo preset)"
EVAL_PROJECT = "Demo evaluation: tiny base vs DPO"
EVAL_PROMPTS = 24  # the planted project's last questions, one completion per model each
PREFERS_SHORTER = {YOUNG: True, OLDER: False}  # the planted tastes, applied to generated text
CONSISTENCY = 0.85


def demo_base_model() -> str:
    """The tiny demo model's directory (`manage.py chorus_tiny_model` builds it there)."""
    return str(Path(settings.VAR_DIR) / "models" / "tiny-lm")


DEMO_SOURCE = "demo-tiny"  # the live-inference source of the demo (the tiny model)


def demo_inference_source(*, base_model: str) -> InferenceSource:
    """The tiny demo model as a live-inference source (once), for `make run`'s inference
    worker to keep loaded."""
    existing = InferenceSource.objects.filter(name=DEMO_SOURCE).first()
    if existing is not None:
        return existing
    source = InferenceSource(
        name=DEMO_SOURCE, kind=SourceKind.LOCAL, model_path=base_model, max_new_tokens=48,
        temperature=1.0, help_text="The demo's tiny random model (writes noise, quickly).",
    )  # fmt: skip
    source_check(source)
    source.full_clean()
    source.save()
    return source


def demo_training_queue(
    *, base_model: str, hyperparameters: Mapping[str, Any] | None = None
) -> list[TrainingRun]:
    """Queue the demo's reward and DPO runs (unless they exist) and then, unless the evaluation
    project exists, the task that builds it. `hyperparameters` override the preset (tests)."""
    researcher = get_user_model().objects.get(username="researcher")
    planted = Project.objects.get(name=PLANTED_PROJECT)
    runs = [
        TrainingRun.objects.filter(name=name).order_by("pk").first()
        or run_create(
            created_by=researcher,
            kind=kind,
            base_model=base_model,
            projects=[planted],
            name=name,
            hyperparameters=hyperparameters_parse(
                kind=kind, values=hyperparameters or {}, preset="demo"
            ),
        )  # fmt: skip
        for name, kind in ((REWARD_RUN, RunKind.REWARD), (DPO_RUN, RunKind.DPO))
    ]
    if not Project.objects.filter(name=EVAL_PROJECT).exists():
        from training.tasks import demo_evaluation_task

        transaction.on_commit(demo_evaluation_task.delay)
    return runs


def demo_evaluation_build(*, base_model: str, hostname: str) -> Project | None:
    """Train the demo runs still queued, then make the evaluation project once (see the module
    doc); None while the DPO run has not succeeded."""
    for run in TrainingRun.objects.filter(name__in=[REWARD_RUN, DPO_RUN], status=RunStatus.QUEUED):
        logger.info("training the demo %s run %s", run.kind, run.pk)
        run_execute(run_id=run.pk, hostname=hostname)
    evaluation = Project.objects.filter(name=EVAL_PROJECT).first()
    dpo = TrainingRun.objects.filter(name=DPO_RUN, status=RunStatus.SUCCEEDED).first()
    if evaluation is not None or dpo is None:
        return evaluation
    researcher = get_user_model().objects.get(username="researcher")
    planted = Project.objects.get(name=PLANTED_PROJECT)
    return _demo_evaluation(researcher, planted, base_model, dpo, hostname)


def _demo_evaluation(
    researcher: Any, planted: Project, base_model: str, dpo: TrainingRun, hostname: str
) -> Project:
    prompts = list(planted.prompts.order_by("-pk")[:EVAL_PROMPTS])[::-1]
    job = evaluation_create(
        created_by=researcher, name=EVAL_PROJECT, sources=[{"model": base_model}, {"run": dpo.pk}],
        source_prompts=prompts, sampling={"max_new_tokens": 24}, overlap_target=6,
    )  # fmt: skip
    generation_job_execute(job_id=job.pk, hostname=hostname)
    job = GenerationJob.objects.select_related("project").get(pk=job.pk)
    pairwise_simulate(project=job.project, p_first=_length_taste, seed=17)
    return job.project


def _length_taste(item: Item, group: str) -> float:
    """P(the labeler prefers canonical A): their group's planted taste on the real text."""
    a, b = (len(s.completion.text.split()) for s in item.slots.all())
    if a == b:
        return 0.5
    a_shorter = a < b
    return CONSISTENCY if a_shorter == PREFERS_SHORTER[group] else 1 - CONSISTENCY
