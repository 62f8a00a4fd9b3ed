"""Reads of constitution jobs (researchers and admins only; everyone else gets 404): a project's
jobs, one job, and a job's result as people may see it.

Groups with fewer labelers in the job's snapshot than CHORUS_MIN_GROUP_SIZE are never shown,
to anyone (annotation.privacy, as on run pages and the report): not their principles, not their
column of the separation table; they are counted in `hidden`.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from annotation.models import Project
from training.models import ConstitutionJob, RunStatus
from training.selectors.generation import require_researcher

TOP_PRINCIPLES = 5  # kept principles shown per group on the page


def constitution_jobs(project: Project) -> QuerySet[ConstitutionJob]:
    return ConstitutionJob.objects.filter(project=project).select_related("created_by")


def constitution_job_list_for_user(user: Any) -> QuerySet[ConstitutionJob]:
    require_researcher(user)
    return ConstitutionJob.objects.select_related("project", "created_by")


def constitution_job_get_for_user(user: Any, job_id: int) -> ConstitutionJob:
    try:
        return constitution_job_list_for_user(user).get(pk=job_id)
    except ConstitutionJob.DoesNotExist:
        raise Http404("No such constitution job.") from None


def latest_constitution(project: Project) -> ConstitutionJob | None:
    """The project's newest succeeded constitution job."""
    jobs = constitution_jobs(project).filter(status=RunStatus.SUCCEEDED)
    return jobs.order_by("-finished_at", "-id").first()


def constitution_shown(job: ConstitutionJob) -> dict[str, Any]:
    """The job's result without the small groups (counted in `hidden`); {} before it succeeds."""
    result = job.result or {}
    if not result.get("groups"):
        return {}
    hidden = job.hidden_groups
    groups = {g: r for g, r in sorted(result["groups"].items()) if g not in hidden}
    principles = []
    for p in result.get("principles", []):
        by_group = {g: n for g, n in p.get("groups", {}).items() if g not in hidden}
        if by_group:  # proposed from a shown group's pairs
            principles.append({**p, "groups": by_group})
    return {
        "groups": groups,
        "principles": principles,
        "separation": [
            s for s in result.get("separation", []) if s["a"] in groups and s["b"] in groups
        ],
        "prompts": result.get("prompts", {}),
        "calls": result.get("calls", {}),
        "config": result.get("config", {}),
        "llm": result.get("llm", ""),
        "hidden": len(hidden & set(result["groups"])),
    }


def top_principles(group_result: dict[str, Any], n: int = TOP_PRINCIPLES) -> list[dict[str, Any]]:
    """A group's kept principles, best first (the job stores them sorted)."""
    return [r for r in group_result.get("principles", []) if r.get("kept")][:n]
