"""HTML pages of model evaluations: a new blind pairwise evaluation, and a project's report (win
rates per group, leaderboards, reward model vs people). Researchers and admins only."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from training.forms.generation import EvaluationForm, ScoringForm
from training.selectors.evaluation import (
    evaluation_report as evaluation_report_read,
)
from training.selectors.evaluation import (
    generated_project_get_for_user,
    reward_agreement,
    scoring_runs,
)
from training.selectors.generation import job_list_for_user
from training.services.generation import evaluation_create
from training.views.common import create_page


@login_required
@require_http_methods(["GET", "POST"])
def evaluation_new(request: HttpRequest) -> HttpResponse:
    job_list_for_user(request.user)  # 404 for anyone but researchers
    form = EvaluationForm(request.POST or None)
    return create_page(request, form, evaluation_create, "training/evaluation_new.html")


@login_required
@require_GET
def evaluation_report(request: HttpRequest, project_id: int) -> HttpResponse:
    project = generated_project_get_for_user(request.user, project_id)
    context = {
        "project": project,
        "report": evaluation_report_read(project),
        "agreements": [reward_agreement(project, run) for run in scoring_runs(project)],
        "jobs": project.generation_jobs.all(),
        "scoring_form": ScoringForm(initial={"project": project}),
    }
    return render(request, "training/evaluation_report.html", context)
