"""HTML pages of the loop: jobs and evaluations, a job's progress, a project's evaluation report
(win rates per group, leaderboards, reward model vs people) and a model's lineage.

Researchers and admins only: the selectors 404 for everyone else. Jobs, evaluations and
scoring jobs are created here through plain forms (forms_loop.py) or through the API
(training/api_loop.py); the services validate, and their errors show on the form's fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from training.forms_loop import EvaluationForm, GenerationJobForm, ScoringForm
from training.selectors_loop import (
    evaluation_projects,
    evaluation_report,
    job_get_for_user,
    job_list_for_user,
    lineage,
    loop_project_get_for_user,
    reward_agreement,
    scoring_runs,
)
from training.services_loop import evaluation_create, generation_job_create
from training.services_loop_control import (
    generation_job_cancel,
    generation_jobs_fail_stale,
    scoring_job_create,
)
from training.views import _add_errors


@login_required
@require_GET
def loop_index(request: HttpRequest) -> HttpResponse:
    jobs = job_list_for_user(request.user)
    generation_jobs_fail_stale()
    return render(
        request,
        "training/loop_index.html",
        {"jobs": list(jobs[:200]), "evaluations": evaluation_projects()[:100]},
    )


@login_required
@require_GET
@vary_on_headers("HX-Request")
def loop_job(request: HttpRequest, job_id: int) -> HttpResponse:
    job = job_get_for_user(request.user, job_id)
    if generation_jobs_fail_stale():
        job.refresh_from_db()
    template = "training/loop_job.html#live" if request.htmx else "training/loop_job.html"
    return render(request, template, {"job": job})


@login_required
@require_GET
def loop_report(request: HttpRequest, project_id: int) -> HttpResponse:
    project = loop_project_get_for_user(request.user, project_id)
    context = {
        "project": project,
        "report": evaluation_report(project),
        "agreements": [reward_agreement(project, run) for run in scoring_runs(project)],
        "jobs": project.generation_jobs.all(),
        "scoring_form": ScoringForm(initial={"project": project}),
    }
    return render(request, "training/loop_report.html", context)


@login_required
@require_GET
def loop_lineage(request: HttpRequest, run_id: int) -> HttpResponse:
    return render(request, "training/loop_lineage.html", lineage(request.user, run_id))


def _create(
    request: HttpRequest, form: Form, create: Callable[..., Any], template: str
) -> HttpResponse:
    """Parse the form, call the service, go to the new job; or show the form with its errors."""
    if request.method == "POST" and form.is_valid():
        try:
            job = create(created_by=request.user, **form.service_arguments())  # type: ignore[attr-defined]
        except ValidationError as exc:
            _add_errors(form, exc)  # type: ignore[arg-type]
        else:
            return redirect("training:loop_job", job_id=job.pk)
    return render(request, template, {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def loop_job_new(request: HttpRequest) -> HttpResponse:
    job_list_for_user(request.user)  # 404 for anyone but researchers
    form = GenerationJobForm(request.POST or None, initial={"project": request.GET.get("project")})
    return _create(request, form, generation_job_create, "training/loop_job_new.html")


@login_required
@require_http_methods(["GET", "POST"])
def loop_evaluation_new(request: HttpRequest) -> HttpResponse:
    job_list_for_user(request.user)
    form = EvaluationForm(request.POST or None)
    return _create(request, form, evaluation_create, "training/loop_evaluation_new.html")


@login_required
@require_http_methods(["GET", "POST"])
def loop_scoring_new(request: HttpRequest) -> HttpResponse:
    job_list_for_user(request.user)
    form = ScoringForm(request.POST or None, initial={"project": request.GET.get("project")})
    return _create(request, form, scoring_job_create, "training/loop_scoring_new.html")


@login_required
@require_POST
def loop_job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = job_get_for_user(request.user, job_id)
    try:
        generation_job_cancel(job=job)
    except ValidationError:
        pass  # it ended meanwhile; the page shows how
    return redirect("training:loop_job", job_id=job.pk)
