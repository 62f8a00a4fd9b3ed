"""Writes of constitution jobs: each labeler group's constitution by Inverse Constitutional AI
(training/ml/icai.py explains the method; docs in README "Whose preferences").

- `constitution_job_create`: validate the LLM (an admin's InferenceEndpoint by name, or a local
  model inside CHORUS_MODEL_ROOTS) and the options (training.ml.icai.ICAIConfig), and queue the
  job on the training queue.
- `constitution_job_execute` (training queue): claim, freeze the project's grouped preference
  pairs (training/datasets.py, ties dropped, imported judgments left out: they belong to no
  group), run `python -m training.ml icai` as a child (training/worker.py: progress relayed,
  cancel through the CANCEL file, the endpoint's key only in the child's environment) and store
  its result. Nothing is stored from a failed or cancelled search.
- `constitution_job_cancel`: a queued job is cancelled at once; a running one stops after its
  current chunk of LLM calls.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError

from annotation.models import Project
from config.dispatch import dispatch_on_commit
from training.datasets import DatasetSpec, dataset_write
from training.ml.icai import ICAIConfig, ICAIError
from training.ml.protocol import API_KEY_ENV
from training.models import ConstitutionJob, InferenceEndpoint, RunStatus
from training.paths import model_resolve
from training.selectors.preferences import project_group_sizes
from training.services.generation import endpoint_source
from training.worker import (
    ChildFailed,
    JobStopped,
    job_cancel,
    job_claim,
    job_finish,
    ml_command,
    run_child,
)

logger = logging.getLogger(__name__)


def llm_resolve(spec: dict[str, Any]) -> dict[str, Any]:
    """The LLM a researcher named: {"endpoint", "api_model"} or {"model"}; ValidationError
    naming `llm.<field>` otherwise. URLs are never accepted (issue 10: the admin's list only)."""
    if spec.get("endpoint"):
        return endpoint_source(spec, "llm")
    if spec.get("model"):
        model = str(spec["model"]).strip()
        return {
            "kind": "model",
            "path": model_resolve(model, field="llm.model"),
            "label": model[:300],
        }
    raise ValidationError({"llm": "Name an inference endpoint (with its model) or a local model."})


def _options(values: dict[str, Any] | None) -> dict[str, Any]:
    try:
        return ICAIConfig.from_dict(dict(values or {})).as_dict()
    except ICAIError as exc:
        raise ValidationError(
            {f"options.{exc.field}" if exc.field else "options": str(exc)}
        ) from exc


def constitution_job_create(
    *, created_by: Any, project: Project, llm: dict[str, Any], options: dict[str, Any] | None = None
) -> ConstitutionJob:
    """Validate a constitution job and queue it on the training queue."""
    resolved, config = llm_resolve(dict(llm)), _options(options)
    if not project_group_sizes(project):
        raise ValidationError(
            {"project": "No labeler group has judged in this project: a constitution is per group."}
        )
    job = ConstitutionJob(project=project, llm=resolved, options=config, created_by=created_by)
    job.full_clean()
    job.save()
    from training.tasks import constitution_job_task

    dispatch_on_commit(constitution_job_task, job)
    return job


def _child_config(job: ConstitutionJob) -> tuple[dict[str, Any], dict[str, str]]:
    """The child's config and environment (the endpoint's key, for this child only)."""
    llm = job.llm
    if llm["kind"] != "endpoint":
        return {"icai": job.options, "llm": {"model": llm["path"]}}, {}
    endpoint = InferenceEndpoint.objects.filter(name=llm["endpoint"]).first()
    if endpoint is None:
        raise ChildFailed(f"inference endpoint {llm['endpoint']!r} is not (or no longer) set up")
    key = os.environ.get(endpoint.key_env, "") if endpoint.key_env else ""
    config = {
        "icai": job.options,
        "llm": {"endpoint": endpoint.base_url, "api_model": llm["api_model"]},
    }
    return config, {API_KEY_ENV: key}


def _on_progress(event: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    fields = {"phase": str(event.get("phase", ""))[:20], "done": int(event.get("step", 0))}
    return {**fields, "total": int(event.get("total_steps", 0))}, []


def _search(job: ConstitutionJob, work: Path) -> dict[str, Any]:
    """Freeze the pairs, run the child in `work`, return its result."""
    spec = DatasetSpec(project_ids=(job.project_id,), include_external=False, eval_fraction=0.0)
    counts = dataset_write(kind="reward", spec=spec, path=work / "pairs.jsonl")
    ConstitutionJob.objects.filter(pk=job.pk).update(dataset_counts=counts)
    config, env = _child_config(job)
    (work / "config.json").write_text(json.dumps(config))
    args = ["icai", "--config", str(work / "config.json"), "--data", str(work / "pairs.jsonl")]
    outcome = run_child(
        job, ml_command([*args, "--output-dir", str(work)]), work_dir=work,
        log_name="child.log", env=env, on_progress=_on_progress,
    )  # fmt: skip
    result = outcome.result
    if outcome.killed or (outcome.succeeded and result and result.get("cancelled")):
        raise JobStopped
    if not outcome.succeeded or not (result and result.get("output")):
        raise ChildFailed(outcome.failure("constitution search"))
    return json.loads(Path(result["output"]).read_text(encoding="utf-8"))


def constitution_job_execute(*, job_id: int, hostname: str) -> None:
    """Run a queued job to its end; a failure or a cancel is recorded on the job."""
    if not job_claim(ConstitutionJob, job_id=job_id, hostname=hostname):
        logger.warning("constitution job %s is not queued; not running it again", job_id)
        return
    job = ConstitutionJob.objects.get(pk=job_id)
    try:
        with tempfile.TemporaryDirectory(prefix=f"chorus-icai-{job.pk}-") as tmp:
            result = _search(job, Path(tmp))
    except JobStopped:
        job_finish(job, status=RunStatus.CANCELLED)
        return
    except ChildFailed as exc:
        job_finish(job, status=RunStatus.FAILED, error=str(exc)[:2000])
        return
    except Exception as exc:
        logger.exception("constitution job %s failed", job_id)
        job_finish(job, status=RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
        return
    job_finish(job, status=RunStatus.SUCCEEDED, result=result)


def constitution_job_cancel(*, job: ConstitutionJob) -> ConstitutionJob:
    """A queued job is cancelled at once; a running one stops after its chunk of calls."""
    job_cancel(job, ended="The job has already ended.")
    job.refresh_from_db()
    return job
