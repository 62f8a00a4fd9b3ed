"""Going back in the workbench: the labeler's previous judgment shown again, filled in as they
left it, to change within the project's edit window (annotation.services.revisions).

GET shows the latest judgment of theirs that can still be changed (the workbench's "Previous"
control, key `p`); POST saves the change and answers with the workbench on the current item,
saying the change was saved. Only ever their own judgments: anything else is 404.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from annotation.http import HtmxHttpRequest
from annotation.models import Judgment, Project
from annotation.selectors.edits import (
    editable_until,
    judged_answers,
    labeler_judgment_get,
    labeler_last_judgment,
)
from annotation.selectors.labeling import item_view, labeler_project_get
from annotation.services.revisions import judgment_edit
from annotation.views.label import _context, _errors, _item_context, _problem, parse_judgment
from annotation.views.onboarding import onboarding_gate

ANSWER_FIELDS = ("client_key", "choice", "ranks", "none_acceptable", "demonstration")
ANSWER_FIELDS += ("rationale", "ratings", "flags")


def _prefill(judgment: Judgment) -> list[tuple[str, str]]:
    """The judgment's answers as the form's [name, value] pairs (filled in by the page's
    script, as a restored draft is)."""
    answers = judged_answers(judgment)
    fields = [] if answers.choice is None else [("choice", str(answers.choice))]
    fields += [(f"rank_{n}", str(rank)) for n, rank in sorted(answers.ranks.items())]
    fields += [(f"rating_{c}_{n}", str(v)) for (c, n), v in sorted(answers.ratings.items())]
    fields += [(f"flag_{n}", flag) for n, flags in answers.flags.items() for flag in flags]
    fields += [("demonstration", answers.demonstration), ("rationale", answers.rationale)]
    return fields + ([("none_acceptable", "on")] if answers.none_acceptable else [])


def _edit_context(request: HtmxHttpRequest, project: Project, judgment: Judgment) -> dict[str, Any]:
    until = editable_until(judgment)
    assert until is not None  # labeler_last_judgment returns only changeable ones
    item = item_view(
        judgment.item_id, list(judgment.display_order), until, project,
        max_chars=settings.CHORUS_LABEL_TEXT_CHARS or None,
    )  # fmt: skip
    context = _context(request, project, reserve=False)
    return {
        **context,
        **_item_context(item, project),
        "state": "edit",
        "editing": judgment,
        "editable_until": until,
        "prefill": _prefill(judgment),
        "form_url": reverse("annotation:label_edit", args=[project.pk, judgment.pk]),
    }


@login_required
@require_GET
@vary_on_headers("HX-Request")
def label_previous(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    project = labeler_project_get(request.user, project_id)
    if gate := onboarding_gate(request):
        return gate
    judgment = labeler_last_judgment(request.user, project)
    if judgment is None:
        context = {**_context(request, project), "notice": "nothing_to_change"}
    else:
        context = _edit_context(request, project, judgment)
    template = "annotation/label_workbench.html"
    return render(request, f"{template}#workbench" if request.htmx else template, context)


@login_required
@require_POST
def label_edit(request: HtmxHttpRequest, project_id: int, judgment_id: int) -> HttpResponse:
    judgment = labeler_judgment_get(request.user, judgment_id, project_id)
    project = judgment.item.project
    try:
        answers = {k: v for k, v in parse_judgment(request.POST).items() if k in ANSWER_FIELDS}
        judgment_edit(labeler=request.user, judgment=judgment, **answers)
    except ValidationError as exc:
        return _problem(request, project, _errors(exc), status=422)
    if not request.htmx:
        return redirect("annotation:label_workbench", project_id=project.pk)
    project = labeler_project_get(request.user, project.pk)
    context = {**_context(request, project), "notice": "change_saved"}
    return render(request, "annotation/label_workbench.html#workbench", context)
