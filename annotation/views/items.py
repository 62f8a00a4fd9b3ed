"""The item browser: a project's items in a filterable table with bulk actions, for researchers
and admins (labelers and outsiders get 404). htmx requests get the table fragment."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from annotation.forms import ItemBulkForm, ItemFilterForm
from annotation.http import HtmxHttpRequest
from annotation.models import Project
from annotation.roles import is_admin
from annotation.selectors import items as browse
from annotation.selectors.items import browse_groups, item_page, source_models
from annotation.selectors.projects import project_get_for_researcher
from annotation.services.review import items_bulk_apply

PAGE = "annotation/item_browser.html"
# The filter bar's choices, rendered as plain <select>s (Django's widget templates cost more
# than the table's rows).
CHOICES = {
    name: list(field.choices)
    for name, field in ItemFilterForm.base_fields.items()
    if hasattr(field, "choices")
}


@login_required
@require_GET
@vary_on_headers("HX-Request")
def item_browser(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_researcher(request.user, project_id)
    return _render(request, project, request.GET)


def _render(
    request: HtmxHttpRequest, project: Project, params: QueryDict, status: int = 200
) -> HttpResponse:
    form = ItemFilterForm(params)
    page = None
    if form.is_valid():
        try:
            page = item_page(project, form.filters())
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                form.add_error(name if name in form.fields else None, errors)
    if page is None:
        status = 400
    query = {k: v for k, v in params.items() if k != "after" and v}
    context = {
        "project": project,
        "base": reverse("annotation:item_browser", args=[project.pk]),  # + "<id>/": the item page
        "form": form,
        "values": {name: params.get(name, "") for name in ItemFilterForm.base_fields},
        "choices": CHOICES,
        "page": page,
        "query": urlencode(query),
        "next_query": urlencode({**query, "after": page.next_cursor}) if page else "",
        "filtered": bool(set(query) - {"sort"}),
        "groups": browse_groups(project),
        "sources": source_models(project),
        "bulk": ItemBulkForm(),
        "is_admin": is_admin(request.user),
        "letters": [chr(ord("A") + i) for i in range(project.ranking_size)],
    }
    template = f"{PAGE}#table" if request.htmx else PAGE
    return render(request, template, context, status=status)


@login_required
@require_GET
def item_count(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    """The matching items' number (bounded), loaded by the page after its table."""
    project = project_get_for_researcher(request.user, project_id)
    form = ItemFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponse(status=400)
    try:
        count = browse.item_count(project, form.filters())
    except ValidationError:
        return HttpResponse(status=400)
    filtered = bool({k for k, v in request.GET.items() if v} - {"sort", "after"})
    context = {"count": count, "filtered": filtered}
    return render(request, f"{PAGE}#count", context)


@login_required
@require_POST
def item_bulk(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_researcher(request.user, project_id)
    form = ItemBulkForm(request.POST)
    params = QueryDict(request.POST.get("return_query", ""))
    if not form.is_valid():
        messages.error(request, f"Nothing done: {_errors(form.errors)}")
        return _render(request, project, params, status=400)
    data = form.cleaned_data
    try:
        done = items_bulk_apply(
            project=project,
            action=data["action"],
            item_ids=data["items"],
            user=request.user,
            best_position=data["best_position"],
            more=data["more"],
            reviewer_id=data["reviewer"],
        )
    except ValidationError as exc:
        messages.error(request, f"Nothing done: {_errors(exc.message_dict)}")
        return _render(request, project, params, status=400)
    messages.success(request, done)
    if request.POST.get("return_item"):  # the item page's actions
        return redirect("annotation:report_item", project_id=project.pk, item_id=data["items"][0])
    back = reverse("annotation:item_browser", args=[project.pk])
    return redirect(f"{back}?{params.urlencode()}" if params else back)


def _errors(errors: dict[str, list[str]]) -> str:
    return "; ".join(f"{name}: {' '.join(str(e) for e in errs)}" for name, errs in errors.items())
