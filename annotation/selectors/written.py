"""Reads of written prompts: a labeler sees only their own; researchers and admins review all.
Outsiders get 404 (through `annotation.selectors.projects`, the one access check)."""

from __future__ import annotations

from typing import Any

from django.db.models import Case, QuerySet, When
from django.http import Http404

from annotation.models import Project, ProjectKind, WrittenPrompt, WrittenPromptStatus
from annotation.selectors.projects import project_get_for_researcher, project_get_for_user


def writing_project_get(user: Any, project_id: int) -> Project:
    """A prompt-writing project the user may work on."""
    project = project_get_for_user(user, project_id)
    if project.kind != ProjectKind.PROMPT_WRITING:
        raise Http404("No such prompt-writing project.")
    return project


def written_prompts_of_author(project: Project, author: Any) -> QuerySet[WrittenPrompt]:
    return WrittenPrompt.objects.filter(project=project, author=author).order_by("-id")


def written_prompts_to_review(
    user: Any, project_id: int
) -> tuple[Project, QuerySet[WrittenPrompt]]:
    """The project's prompts, pending first (researchers and admins only)."""
    project = project_get_for_researcher(user, project_id)
    if project.kind != ProjectKind.PROMPT_WRITING:
        raise Http404("No such prompt-writing project.")
    rows = WrittenPrompt.objects.filter(project=project).select_related("reviewed_by")
    pending_first = Case(When(status=WrittenPromptStatus.PENDING, then=0), default=1)
    return project, rows.order_by(pending_first, "-id")


def written_prompt_get_for_reviewer(user: Any, project_id: int, written_id: int) -> WrittenPrompt:
    project = project_get_for_researcher(user, project_id)
    written = WrittenPrompt.objects.filter(project=project, pk=written_id).first()
    if written is None:
        raise Http404("No such written prompt.")
    return written


def accepted_prompt_texts(project: Project) -> list[str]:
    """Accepted prompts' texts, oldest first (what live conversations may start from)."""
    return list(
        WrittenPrompt.objects.filter(project=project, status=WrittenPromptStatus.ACCEPTED)
        .order_by("id")
        .values_list("text", flat=True)
    )
