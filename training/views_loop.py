"""HTML pages of the loop: jobs and evaluations, a job's progress, a project's evaluation report
(win rates per group, leaderboards, reward model vs people) and a model's lineage.

Researchers and admins only: the selectors 404 for everyone else. Jobs and evaluations are
created through the API (training/api_loop.py).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

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


@login_required
@require_GET
def loop_index(request: HttpRequest) -> HttpResponse:
    jobs = list(job_list_for_user(request.user)[:200])
    return render(
        request,
        "training/loop_index.html",
        {"jobs": jobs, "evaluations": evaluation_projects()[:100]},
    )


@login_required
@require_GET
@vary_on_headers("HX-Request")
def loop_job(request: HttpRequest, job_id: int) -> HttpResponse:
    job = job_get_for_user(request.user, job_id)
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
    }
    return render(request, "training/loop_report.html", context)


@login_required
@require_GET
def loop_lineage(request: HttpRequest, run_id: int) -> HttpResponse:
    return render(request, "training/loop_lineage.html", lineage(request.user, run_id))
