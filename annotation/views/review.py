"""Review and adjudication: the project's review queue (researchers and admins), a reviewer's
own queue, and the page where a reviewer (an admin, or the labeler designated for the item)
reads the judgments side by side and records the adjudicated answer."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation.forms import AdjudicateForm, AdjudicationUseForm
from annotation.models import Adjudication
from annotation.roles import role_of
from annotation.selectors.projects import project_get_for_researcher
from annotation.selectors.review import (
    adjudication_get_for_reviewer,
    adjudications_for_project,
    adjudications_for_reviewer,
    item_judgments,
    letter,
)
from annotation.services.review import adjudication_decide, project_adjudication_use_set


@login_required
@require_GET
def review_queue(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_researcher(request.user, project_id)
    context = {
        "project": project,
        "adjudications": adjudications_for_project(project)[:500],
        "use_form": AdjudicationUseForm(initial={"use": project.adjudication_use}),
    }
    return render(request, "annotation/review_queue.html", context)


@login_required
@require_POST
def review_use(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_researcher(request.user, project_id)
    form = AdjudicationUseForm(request.POST)
    if not form.is_valid():
        return HttpResponse(f"use: {' '.join(form.errors['use'])}", status=400)
    project_adjudication_use_set(project=project, use=form.cleaned_data["use"])
    messages.success(
        request, f"Adjudicated answers are now used as: {project.get_adjudication_use_display()}."
    )
    return redirect("annotation:review_queue", project_id=project.pk)


@login_required
@require_GET
def review_mine(request: HttpRequest) -> HttpResponse:
    if role_of(request.user) is None:
        raise Http404
    pending = adjudications_for_reviewer(request.user)
    return render(request, "annotation/review_mine.html", {"pending": pending})


@login_required
@require_http_methods(["GET", "POST"])
def review_item(request: HttpRequest, adjudication_id: int) -> HttpResponse:
    adjudication = adjudication_get_for_reviewer(request.user, adjudication_id)
    form = AdjudicateForm(
        request.POST or None,
        initial={"best_position": adjudication.best_position, "note": adjudication.note},
    )
    if request.method == "POST" and form.is_valid():
        try:
            adjudication_decide(
                adjudication=adjudication, decided_by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Item {adjudication.item_id} adjudicated.")
            return redirect("annotation:review_mine")
    return _review_page(request, adjudication, form, status=400 if form.errors else 200)


def _review_page(
    request: HttpRequest, adjudication: Adjudication, form: AdjudicateForm, status: int
) -> HttpResponse:
    item = adjudication.item
    project = item.project
    slots = list(item.slots.select_related("completion"))
    context = {
        "adjudication": adjudication,
        "project": project,
        "item": item,
        "turns": list(item.prompt.turns.all()),
        "slots": [
            {"letter": letter(s.position), "position": s.position, "text": s.completion.text}
            for s in slots
        ],
        "judgments": item_judgments(project, item, viewer=request.user),
        "form": form,
    }
    return render(request, "annotation/review_item.html", context, status=status)
