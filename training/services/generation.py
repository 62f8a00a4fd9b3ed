"""Writes of generation jobs: models write the candidates, people judge the models.

- `generation_job_create`: sample K completions per prompt of a project from one or more models
  (a finished run's model, a directory inside CHORUS_MODEL_ROOTS or a hub id, or an
  OpenAI-compatible endpoint an admin has set up: models.InferenceEndpoint) and
  make items of them: every pair of a prompt's completions (pairwise projects) or one item with
  all of them (rankings). Canonical sides are shuffled; labelers see shuffled sides again.
- `evaluation_create`: a new pairwise project on a held-out prompt set, one completion per
  model per prompt, blind pairs of models; the report is in `selectors.evaluation.evaluation_report`.
- `generation_job_execute` (training queue): claim, generate from each model in turn, build the
  items in one transaction, and score the new completions with the job's reward model. A
  SCORING job generates nothing: it scores the project's unscored completions (scoring.py).
- `generation_job_cancel`: a queued job is cancelled at once; a running one is marked
  cancel-requested and its child process stops after its batch.

Generation and scoring, local models and HTTP endpoints alike, run in a child process, `python
-m training.ml generate|score` (training/worker.py, as for training runs): a crash or an out-of-memory kill fails the job, not the worker, with the child's message
and the last lines of its log in `error`, and the GPU memory is freed when the child exits. Its
output is written to the database only once it has succeeded.

Cancel and lost workers (worker.py, sweeps.py): while a child runs, the worker looks for a
cancel request (or the job failed by the stale sweep) and writes the file CANCEL for the child,
which stops after its batch and writes nothing; between children the worker checks again.
Either way the job stops (`JobStopped`). Items are made only once every model has finished (a
pair needs both sides), so a job cancelled while generating keeps nothing: no completions, no
items; `done` says how far it got. Once the items exist the job finishes (the reward scoring
after it heartbeats but is not cut short). A SCORING job scores and stores per chunk of
SCORE_CHUNK, one child (one model load) per chunk, and keeps the chunks scored before a cancel.

Every completion records its sampling settings (Completion.generation_settings) and its model
(Completion.source_model: `run:<id>`, the path or hub id, or `<model>@<endpoint name>`); neither is ever
shown to labelers.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from annotation.models import Completion, Project, ProjectKind, Prompt, Role
from annotation.services.items import (
    NewCompletion,
    NewItem,
    NewPrompt,
    completions_create,
    items_create,
    prompts_copy,
    prompts_create,
)
from annotation.services.projects import project_create
from config.dispatch import dispatch_on_commit
from training.ml.config import ConfigError, SamplingSettings
from training.ml.protocol import API_KEY_ENV, Generated
from training.models import (
    POLICY_KINDS,
    GenerationJob,
    GenerationPurpose,
    InferenceEndpoint,
    RunKind,
    RunStatus,
    TrainingRun,
)
from training.paths import model_resolve
from training.selectors.generation import prompt_conversations
from training.services.scoring import completions_score, score_project
from training.worker import (
    ChildFailed,
    JobStopped,
    checkpoint,
    child_rows,
    job_cancel,
    job_claim,
    job_finish,
)

logger = logging.getLogger(__name__)


# --- sources --------------------------------------------------------------------------------


def source_resolve(spec: dict[str, Any], index: int = 0) -> dict[str, Any]:
    """A validated source with its `label` (Completion.source_model); ValidationError naming
    `sources[<index>].<field>` if not. An endpoint is named, never given as a URL: only the
    admin's InferenceEndpoint list is reachable (issue 10)."""
    at = f"sources[{index}]"
    if spec.get("run") is not None:
        run = TrainingRun.objects.filter(pk=spec["run"]).first()
        if run is None or run.kind not in POLICY_KINDS or run.status != RunStatus.SUCCEEDED:
            raise ValidationError(
                {
                    f"{at}.run": f"run {spec['run']} is not a succeeded policy run (DPO, PPO, GRPO, SFT)."
                }
            )
        return {"kind": "run", "run": run.pk, "path": str(run.run_dir), "label": f"run:{run.pk}"}
    if spec.get("model"):
        model = str(spec["model"]).strip()
        path = model_resolve(model, field=f"{at}.model")
        return {"kind": "model", "path": path, "label": model[:300]}
    if spec.get("endpoint"):
        return endpoint_source(spec, at)
    raise ValidationError({at: "each source needs one of run, model or endpoint."})


def endpoint_source(spec: dict[str, Any], at: str) -> dict[str, Any]:
    """`spec`'s endpoint (an admin's InferenceEndpoint, by name) and model, resolved;
    ValidationError naming `<at>.endpoint` or `<at>.api_model` if not."""
    name, api_model = str(spec["endpoint"]).strip(), str(spec.get("api_model") or "").strip()
    endpoint = InferenceEndpoint.objects.filter(name=name).first()
    if endpoint is None:
        raise ValidationError(
            {f"{at}.endpoint": f"{name[:100]!r} is not an inference endpoint an admin has set up "
             "(GET /api/training/inference-endpoints/ lists them; URLs are not accepted)."}
        )  # fmt: skip
    if not api_model:
        raise ValidationError({f"{at}.api_model": "Name the endpoint's model."})
    return {
        "kind": "endpoint",
        "endpoint": endpoint.name,
        "api_model": api_model[:200],
        "chat": bool(spec.get("chat", True)),
        "label": f"{api_model}@{endpoint.name}"[:300],
    }


def _sampling(values: dict[str, Any] | None) -> dict[str, Any]:
    try:
        return SamplingSettings(**(values or {})).as_dict()
    except ConfigError as exc:
        raise ValidationError(
            {f"sampling.{exc.field}" if exc.field else "sampling": str(exc)}
        ) from exc
    except (TypeError, ValueError) as exc:
        raise ValidationError({"sampling": str(exc)}) from exc


def _check_shape(project: Project, purpose: str, n_sources: int, k: int) -> None:
    per_prompt = n_sources * k
    if project.kind == ProjectKind.DEMONSTRATION:
        raise ValidationError({"project": "Demonstration projects take no completions."})
    if purpose == GenerationPurpose.EVALUATION and (
        n_sources < 2 or k != 1 or project.kind != ProjectKind.PAIRWISE
    ):
        raise ValidationError(
            {"sources": "An evaluation compares two or more models, one completion each, in pairs."}
        )
    if per_prompt < 2:
        raise ValidationError(
            {"samples_per_prompt": "Items need at least two completions per prompt."}
        )
    if project.kind == ProjectKind.RANKING and per_prompt > project.ranking_size:
        raise ValidationError(
            {
                "samples_per_prompt": f"{per_prompt} completions per prompt; the project ranks {project.ranking_size}."
            }
        )


# --- create ---------------------------------------------------------------------------------


def generation_job_create(
    *,
    created_by: Any,
    project: Project,
    sources: Sequence[dict[str, Any]],
    prompts: Sequence[Prompt] | None = None,
    samples_per_prompt: int = 2,
    sampling: dict[str, Any] | None = None,
    purpose: str = GenerationPurpose.CANDIDATES,
    reward_run: TrainingRun | None = None,
    written_from: Project | None = None,
) -> GenerationJob:
    """Validate a generation job and queue it on the training queue. `written_from`: a
    prompt-writing project whose accepted prompts are copied into `project` and generated for
    (in place of `prompts`)."""
    if written_from is not None:
        with transaction.atomic():
            accepted = written_from.prompts.filter(written__status="accepted")
            if not accepted.exists():
                raise ValidationError({"written_from": "That project has no accepted prompts."})
            return generation_job_create(
                created_by=created_by, project=project, sources=sources,
                prompts=prompts_copy(project=project, prompts=list(accepted)),
                samples_per_prompt=samples_per_prompt, sampling=sampling, purpose=purpose,
                reward_run=reward_run,
            )  # fmt: skip
    resolved = [source_resolve(dict(s), i) for i, s in enumerate(sources)]
    if len({s["label"] for s in resolved}) != len(resolved):
        raise ValidationError({"sources": "The same model is named twice."})
    _check_shape(project, purpose, len(resolved), samples_per_prompt)
    if reward_run is not None and (
        reward_run.kind != RunKind.REWARD or reward_run.status != RunStatus.SUCCEEDED
    ):
        raise ValidationError(
            {"reward_run": "The reward model must come from a succeeded reward run."}
        )
    chosen = (
        list(prompts)
        if prompts is not None
        else list(project.prompts.filter(turns__isnull=False).distinct())
    )
    if not chosen or any(p.project_id != project.pk for p in chosen):
        raise ValidationError(
            {"prompts": "Choose prompts of this project (it has none with turns)."}
        )
    job = GenerationJob(
        project=project, purpose=purpose, sources=resolved, prompt_ids=[p.pk for p in chosen],
        samples_per_prompt=samples_per_prompt, sampling=_sampling(sampling), reward_run=reward_run,
        total=len(chosen) * len(resolved) * samples_per_prompt, created_by=created_by,
    )  # fmt: skip
    job.full_clean()
    job.save()
    from training.tasks import generation_job_task

    dispatch_on_commit(generation_job_task, job)
    return job


def evaluation_create(
    *,
    created_by: Any,
    name: str,
    sources: Sequence[dict[str, Any]],
    prompts: Sequence[str] = (),
    source_prompts: Sequence[Prompt] = (),
    sampling: dict[str, Any] | None = None,
    overlap_target: int = 3,
    reward_run: TrainingRun | None = None,
) -> GenerationJob:
    """A new pairwise project holding the held-out prompts (texts as user turns, and/or copies of
    existing prompts' conversations), queued for generation by every model."""
    if not prompts and not source_prompts:
        raise ValidationError({"prompts": "Give the held-out prompts."})
    with transaction.atomic():
        project = project_create(
            name=name, kind=ProjectKind.PAIRWISE, overlap_target=overlap_target, created_by=created_by,
            guidelines="# Which reply is better?\n\nRead the prompt, then both replies, and choose "
            "the better one: **tie** when they are equally good, **both bad** when neither is.",
        )  # fmt: skip
        made = prompts_create(
            project=project,
            prompts=[
                NewPrompt(turns=((Role.USER, t),), external_id=f"heldout-{i}")
                for i, t in enumerate(prompts)
            ],
        )
        made += prompts_copy(project=project, prompts=source_prompts)
        return generation_job_create(
            created_by=created_by, project=project, sources=sources, prompts=made, samples_per_prompt=1,
            sampling=sampling, purpose=GenerationPurpose.EVALUATION, reward_run=reward_run,
        )  # fmt: skip


# --- execute --------------------------------------------------------------------------------


def _generate(
    job: GenerationJob, source: dict[str, Any], conversations: list[Any], offset: int
) -> list[Generated]:
    config: dict[str, Any] = {
        "samples_per_prompt": job.samples_per_prompt,
        "sampling": job.sampling,
    }
    env = {}
    if source["kind"] == "endpoint":
        name = source.get("endpoint")  # jobs queued before issue 10 hold a URL instead: refused
        endpoint = InferenceEndpoint.objects.filter(name=name).first() if name else None
        if endpoint is None:
            raise ChildFailed(f"inference endpoint {name!r} is not (or no longer) set up")
        config.update(
            endpoint=endpoint.base_url, api_model=source["api_model"], chat=source["chat"]
        )
        # The key travels only to this child, in its environment (never argv or a file), and
        # the child sends it only to this endpoint's host (training.ml.generate).
        env[API_KEY_ENV] = os.environ.get(endpoint.key_env, "") if endpoint.key_env else ""
    else:
        config["model"] = source["path"]
    rows = [{"prompt": c} for c in conversations]

    def on_progress(event: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        return {"done": offset + int(event.get("step", 0))}, []

    generated = child_rows(job, "generate", config, rows, on_progress=on_progress, env=env)
    return [Generated(**g) for g in generated]


def _generate_all(job: GenerationJob) -> int:
    """Sample from every model, then make the items; returns how many items."""
    conversations = prompt_conversations(job.prompt_ids)
    per_source, offset = [], 0
    for source in job.sources:
        checkpoint(job, done=offset)
        per_source.append(_generate(job, source, conversations, offset))
        offset += len(conversations) * job.samples_per_prompt
    checkpoint(job, done=offset)
    with transaction.atomic():
        completions, items = _items_build(job, per_source)
    if job.reward_run is not None:
        completions_score(reward_run=job.reward_run, completions=completions, job=job)
    return items


def generation_job_execute(*, job_id: int, hostname: str) -> None:
    """Run a queued job to its end; a failure or a cancel is recorded on the job, nothing half-made."""
    if not job_claim(GenerationJob, job_id=job_id, hostname=hostname):
        logger.warning("generation job %s is not queued; not running it again", job_id)
        return
    job = GenerationJob.objects.select_related("project", "reward_run").get(pk=job_id)
    try:
        if job.purpose == GenerationPurpose.SCORING:
            items = 0
            score_project(job)
        else:
            items = _generate_all(job)
    except JobStopped:
        logger.info("generation job %s stopped: cancelled or failed meanwhile", job_id)
        job_finish(job, status=RunStatus.CANCELLED)
        return
    except ChildFailed as exc:
        logger.warning("generation job %s failed: %s", job_id, exc)
        job_finish(job, status=RunStatus.FAILED, error=str(exc)[:2000])
        return
    except Exception as exc:
        logger.exception("generation job %s failed", job_id)
        job_finish(job, status=RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
        return
    job_finish(job, status=RunStatus.SUCCEEDED, done=job.total, items_created=items)


def _items_build(job: GenerationJob, per_source: list[list[Any]]) -> tuple[list[Completion], int]:
    """Completions for every sample, then the items (sides shuffled, seeded by job and prompt)."""
    specs: dict[int, list[NewCompletion]] = {pk: [] for pk in job.prompt_ids}
    for source, generated in zip(job.sources, per_source, strict=True):
        for g in generated:
            prompt_id = job.prompt_ids[g.prompt_index]
            settings = {
                **job.sampling,
                "job": job.pk,
                "sample": g.sample,
                "tokens": g.tokens,
                "finished": g.finished,
            }
            settings["source"] = {k: v for k, v in source.items() if k != "label"}
            specs[prompt_id].append(
                NewCompletion(
                    prompt_id=prompt_id,
                    text=g.text,
                    source_model=source["label"],
                    generation_settings=settings,
                )
            )
    completions = completions_create(completions=[c for cs in specs.values() for c in cs])
    by_prompt: dict[int, list[Completion]] = {pk: [] for pk in job.prompt_ids}
    for completion in completions:
        by_prompt[completion.prompt_id].append(completion)
    groups = _item_groups(job, by_prompt)
    items = items_create(
        project=job.project,
        items=[NewItem(prompt_id=prompt_id, completions=tuple(cs)) for prompt_id, cs in groups],
    )
    return completions, len(items)


def _item_groups(
    job: GenerationJob, by_prompt: dict[int, list[Completion]]
) -> list[tuple[int, list[Completion]]]:
    groups: list[tuple[int, list[Completion]]] = []
    for prompt_id, completions in by_prompt.items():
        rng = random.Random(f"{job.pk}-{prompt_id}")
        if job.project.kind == ProjectKind.RANKING:
            sets = [list(completions)]
        else:  # every pair; for an evaluation that is every pair of models (one sample each)
            sets = [list(pair) for pair in itertools.combinations(completions, 2)]
        for chosen in sets:
            rng.shuffle(chosen)
            groups.append((prompt_id, chosen))
    return groups


def generation_job_cancel(*, job: GenerationJob) -> GenerationJob:
    """A queued job is cancelled at once; a running one stops at its next batch. Items are made
    only when every model has finished, so a job stopped while generating keeps none."""
    job_cancel(job, ended="The job has already ended.")
    job.refresh_from_db()
    return job
