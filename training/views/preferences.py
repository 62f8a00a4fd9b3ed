"""A project's "whose preferences" page (selectors/preferences.py builds it) and its
constitution jobs: start one (form), follow its progress (htmx fragment), cancel it.
Researchers and admins only: labelers and outsiders get 404."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from annotation.http import HtmxHttpRequest
from annotation.models import Project
from annotation.selectors.projects import project_get_for_researcher
from training.forms.constitutions import ConstitutionJobForm
from training.selectors.constitutions import constitution_job_get_for_user, constitution_jobs
from training.selectors.preferences import whose_preferences
from training.services.constitutions import constitution_job_cancel, constitution_job_create
from training.views.common import add_service_errors

PAGE = "training/whose_preferences.html"


def _render(
    request: HttpRequest, project: Project, form: ConstitutionJobForm, status: int = 200
) -> HttpResponse:
    jobs = list(constitution_jobs(project)[:10])
    context = {"project": project, "form": form, "jobs": jobs, **whose_preferences(project)}
    context["polling"] = any(j.is_active for j in jobs)
    return render(request, PAGE, context, status=status)


@login_required
@require_GET
@vary_on_headers("HX-Request")
def whose_preferences_page(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_researcher(request.user, project_id)
    if request.htmx:  # the jobs' progress, polled while one is active
        jobs = list(constitution_jobs(project)[:10])
        polling = any(j.is_active for j in jobs)
        context = {"project": project, "jobs": jobs, "polling": polling}
        return render(request, f"{PAGE}#jobs", context)
    return _render(request, project, ConstitutionJobForm(project=project))


@login_required
@require_http_methods(["POST"])
def constitution_job_new(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_researcher(request.user, project_id)
    form = ConstitutionJobForm(request.POST, project=project)
    if form.is_valid():
        try:
            constitution_job_create(created_by=request.user, **form.service_arguments())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return redirect("training:whose_preferences", project_id=project.pk)
    return _render(request, project, form, status=400)


@login_required
@require_POST
def constitution_job_cancel_view(request: HttpRequest, job_id: int) -> HttpResponse:
    job = constitution_job_get_for_user(request.user, job_id)
    project_get_for_researcher(request.user, job.project_id)
    try:
        constitution_job_cancel(job=job)
    except ValidationError:
        pass  # it ended meanwhile; the page shows how
    return redirect("training:whose_preferences", project_id=job.project_id)
