"""The agreement dashboard and the item page (reached from the report and the item browser): admins and researchers (read-only); labelers
and outsiders get 404. Pages only read the cached report: nothing is computed here."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from annotation.http import HtmxHttpRequest
from annotation.models import Adjudication, JobStatus, Project
from annotation.reports.dashboard import dashboard
from annotation.roles import is_admin
from annotation.selectors.projects import project_get_for_researcher
from annotation.selectors.reports import report_get, report_item_detail
from annotation.selectors.review import item_judgments
from annotation.services.reports import project_report_request

PAGE = "annotation/report_dashboard.html"


def _render_dashboard(request: HtmxHttpRequest, project: Project) -> HttpResponse:
    report = report_get(project)
    payload = report.payload if report else None
    context = {
        "project": project,
        "report": report,
        "pending": bool(report and report.status in (JobStatus.QUEUED, JobStatus.RUNNING)),
        "can_recompute": is_admin(request.user),
        "figures": dashboard(payload) if payload and "agreement" in payload else None,
        "payload": payload,
    }
    return render(request, f"{PAGE}#report" if request.htmx else PAGE, context)


@login_required
@require_GET
@vary_on_headers("HX-Request")
def report_dashboard(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    return _render_dashboard(request, project_get_for_researcher(request.user, project_id))


@login_required
@require_POST
def report_recompute(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    if not is_admin(request.user):
        raise Http404
    project = project_get_for_researcher(request.user, project_id)
    project_report_request(project=project, requested_by=request.user)
    if request.htmx:
        return _render_dashboard(request, project)
    return redirect("annotation:report_dashboard", project_id=project.pk)


@login_required
@require_GET
def report_item(request: HttpRequest, project_id: int, item_id: int) -> HttpResponse:
    """The item page: conversation, responses with sources, votes per group, every judgment
    (pseudonymised; see selectors.review), and the item browser's actions for this item."""
    project = project_get_for_researcher(request.user, project_id)
    detail = report_item_detail(project, item_id)
    context = {
        "project": project,
        **detail,
        "judgments": item_judgments(project, detail["item"], viewer=request.user),
        "adjudication": Adjudication.objects.filter(item=detail["item"]).first(),
        "letters": [chr(ord("A") + s.position) for s in detail["slots"]],
        "is_admin": is_admin(request.user),
    }
    return render(request, "annotation/report_item.html", context)
