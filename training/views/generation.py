"""HTML pages of generation jobs: the list of jobs and evaluations, a job's progress (live),
new generation and scoring jobs, cancel. Researchers and admins only: the selectors 404 for
everyone else. Jobs are created through plain forms (forms/generation.py) or the API; the
services validate, and their errors show on the form's fields.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from annotation.http import HtmxHttpRequest
from training.forms.generation import GenerationJobForm, ScoringForm
from training.selectors.evaluation import evaluation_projects
from training.selectors.generation import job_get_for_user, job_list_for_user
from training.services.generation import generation_job_cancel, generation_job_create
from training.services.scoring import scoring_job_create
from training.views.common import create_page


@login_required
@require_GET
def generation_jobs(request: HttpRequest) -> HttpResponse:
    jobs = job_list_for_user(request.user)
    return render(
        request,
        "training/generation_jobs.html",
        {"jobs": list(jobs[:200]), "evaluations": evaluation_projects()[:100]},
    )


@login_required
@require_GET
@vary_on_headers("HX-Request")
def generation_job(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    job = job_get_for_user(request.user, job_id)
    page = "training/generation_job.html"
    return render(request, f"{page}#live" if request.htmx else page, {"job": job})


@login_required
@require_http_methods(["GET", "POST"])
def generation_job_new(request: HttpRequest) -> HttpResponse:
    job_list_for_user(request.user)  # 404 for anyone but researchers
    form = GenerationJobForm(request.POST or None, initial={"project": request.GET.get("project")})
    return create_page(request, form, generation_job_create, "training/generation_job_new.html")


@login_required
@require_http_methods(["GET", "POST"])
def scoring_job_new(request: HttpRequest) -> HttpResponse:
    job_list_for_user(request.user)
    form = ScoringForm(request.POST or None, initial={"project": request.GET.get("project")})
    return create_page(request, form, scoring_job_create, "training/scoring_job_new.html")


@login_required
@require_POST
def generation_job_cancel_view(request: HttpRequest, job_id: int) -> HttpResponse:
    job = job_get_for_user(request.user, job_id)
    try:
        generation_job_cancel(job=job)
    except ValidationError:
        pass  # it ended meanwhile; the page shows how
    return redirect("training:loop_job", job_id=job.pk)
