"""Reads of generation jobs: the job list and a job (researchers and admins only; everyone else
gets 404), and the prompts' conversations a job samples from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from annotation.models import Turn
from annotation.roles import is_researcher
from training.models import (
    POLICY_KINDS,
    GenerationJob,
    InferenceEndpoint,
    RunStatus,
    TrainingRun,
)


def require_researcher(user: Any) -> None:
    if not is_researcher(user):
        raise Http404("Not found.")


def job_list_for_user(user: Any) -> QuerySet[GenerationJob]:
    require_researcher(user)
    return GenerationJob.objects.select_related("project", "reward_run", "created_by")


def job_get_for_user(user: Any, job_id: int) -> GenerationJob:
    try:
        return job_list_for_user(user).get(pk=job_id)
    except GenerationJob.DoesNotExist:
        raise Http404("No such generation job.") from None


def policy_runs_usable() -> QuerySet[TrainingRun]:
    """Succeeded runs whose model can write completions (a generation job's source)."""
    return TrainingRun.objects.filter(kind__in=POLICY_KINDS, status=RunStatus.SUCCEEDED)


def endpoints_list() -> QuerySet[InferenceEndpoint]:
    """The inference endpoints generation jobs may call (an admin's list), by name."""
    return InferenceEndpoint.objects.order_by("name")


def prompt_conversations(prompt_ids: Sequence[int]) -> list[list[dict[str, str]]]:
    """Each prompt's turns as messages ({"role", "content"}), in the order of `prompt_ids`."""
    turns: dict[int, list[dict[str, str]]] = {pk: [] for pk in prompt_ids}
    for prompt_id, role, content in (
        Turn.objects.filter(prompt_id__in=prompt_ids)
        .order_by("prompt_id", "position")
        .values_list("prompt_id", "role", "content")
    ):
        turns[prompt_id].append({"role": role, "content": content})
    return [turns[pk] for pk in prompt_ids]
