"""Prompt writing: a labeler's page (write a prompt, see their own and how they were reviewed)
and the review page (researchers and admins accept or reject each prompt)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from annotation.forms import WrittenPromptForm, WrittenPromptReviewForm
from annotation.rendering import render_markdown
from annotation.roles import is_labeler
from annotation.selectors.written import (
    writing_project_get,
    written_prompt_get_for_reviewer,
    written_prompts_of_author,
    written_prompts_to_review,
)
from annotation.services.written import written_prompt_create, written_prompt_review


@login_required
@require_http_methods(["GET", "POST"])
def prompt_write(request: HttpRequest, project_id: int) -> HttpResponse:
    project = writing_project_get(request.user, project_id)
    form = WrittenPromptForm(request.POST or None)
    if request.method == "POST" and is_labeler(request.user) and form.is_valid():
        try:
            written_prompt_create(project=project, author=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Prompt saved; a reviewer will read it.")
            return redirect("annotation:prompt_write", project_id=project.pk)
    status = 400 if request.method == "POST" else 200
    context = {
        "project": project,
        "form": form,
        "mine": written_prompts_of_author(project, request.user)[:200],
        "can_write": is_labeler(request.user),
        "guidelines_html": render_markdown(g.text) if (g := project.current_guidelines) else "",
    }
    return render(request, "annotation/prompt_write.html", context, status=status)


def _review_page(
    request: HttpRequest, project_id: int, error: tuple[int, str] | None = None
) -> HttpResponse:
    """The review list; `error`: (written prompt id, what was wrong) shown on its row, 400."""
    project, rows = written_prompts_to_review(request.user, project_id)
    context = {"project": project, "rows": rows[:500], "error": error}
    return render(request, "annotation/prompt_review.html", context, status=400 if error else 200)


@login_required
@require_http_methods(["GET"])
def prompt_review_list(request: HttpRequest, project_id: int) -> HttpResponse:
    return _review_page(request, project_id)


@login_required
@require_POST
def prompt_review(request: HttpRequest, project_id: int, written_id: int) -> HttpResponse:
    written = written_prompt_get_for_reviewer(request.user, project_id, written_id)
    form = WrittenPromptReviewForm(request.POST)
    errors = dict(form.errors) if not form.is_valid() else {}
    if not errors:
        try:
            written_prompt_review(written=written, reviewer=request.user, **form.cleaned_data)
        except ValidationError as exc:
            errors = exc.message_dict
    if errors:
        text = "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
        return _review_page(request, project_id, (written.pk, text))
    messages.success(request, f"Prompt {written.pk} reviewed.")
    return redirect("annotation:prompt_review_list", project_id=project_id)
