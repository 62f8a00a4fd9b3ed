"""HTML pages of training runs: run list, create form, run page (live), cancel, download, the
trainer's log (issue 13), and a GRPO run's random-reward control (issue 11)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from annotation.http import HtmxHttpRequest
from training.charts import SMOOTHING_CHOICES, smoothing_parse
from training.forms.runs import RunForm
from training.selectors.plural import run_plural_report
from training.selectors.robust import run_latent_report, run_robust_report
from training.selectors.runs import (
    run_artifacts_download,
    run_charts,
    run_dataset_counts,
    run_final_scalars,
    run_get_for_user,
    run_group_report,
    run_has_artifacts,
    run_has_batch_curves,
    run_has_model,
    run_learning_report,
    run_list_for_user,
    run_log_download,
    run_log_path,
    run_log_text,
    run_metric_series,
    run_skipped,
    run_status_line,
)
from training.services.runs import run_cancel, run_control_create, run_create
from training.views.common import create_page


@login_required
@require_GET
@vary_on_headers("HX-Request")
def run_list(request: HtmxHttpRequest) -> HttpResponse:
    runs = list(run_list_for_user(request.user)[:200])
    context = {"runs": runs, "any_active": any(run.is_active for run in runs)}
    return render(
        request,
        "training/run_list.html#runs" if request.htmx else "training/run_list.html",
        context,
    )


@login_required
@require_http_methods(["GET", "POST"])
def run_new(request: HttpRequest) -> HttpResponse:
    run_list_for_user(request.user)  # 404 for anyone but researchers
    form = RunForm(request.POST or None)
    return create_page(request, form, run_create, "training/run_new.html", "training:run_detail")


@login_required
@require_GET
@vary_on_headers("HX-Request")
def run_detail(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    run = run_get_for_user(request.user, run_id)
    try:
        smoothing = smoothing_parse(request.GET.get("smoothing"))
    except ValueError as exc:
        return HttpResponseBadRequest(f"smoothing: {exc}")
    series = run_metric_series(run)
    context = {
        "run": run,
        "charts": run_charts(series, smoothing),
        "smoothable": run_has_batch_curves(series),
        "smoothing": smoothing,
        "smoothing_choices": SMOOTHING_CHOICES,
        "final_scalars": run_final_scalars(run),
        "groups": run_group_report(run),
        "learning": run_learning_report(run),
        "robust": run_robust_report(run),
        "latent": run_latent_report(run),
        "plural": run_plural_report(run),
        "has_artifacts": run_has_artifacts(run),
        "has_model": run_has_model(run),
        "has_log": run_log_path(run) is not None,
        "status_line": run_status_line(run),
        "config_json": json.dumps(run.config, indent=2, sort_keys=True),
        "skipped": run_skipped(run),
        "counts": run_dataset_counts(run),
    }
    template = "training/run_detail.html#live" if request.htmx else "training/run_detail.html"
    return render(request, template, context)


@login_required
@require_POST
def run_cancel_view(request: HttpRequest, run_id: int) -> HttpResponse:
    run = run_get_for_user(request.user, run_id)
    try:
        run_cancel(run=run)
    except ValidationError:
        pass  # it ended meanwhile; the page shows how
    return redirect("training:run_detail", run_id=run.pk)


@login_required
@require_POST
def run_control_view(request: HttpRequest, run_id: int) -> HttpResponse:
    """Start a GRPO run's random-reward control and go to its page (back, with the reason, if
    the run cannot have one)."""
    run = run_get_for_user(request.user, run_id)
    try:
        control = run_control_create(run=run, created_by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("training:run_detail", run_id=run.pk)
    return redirect("training:run_detail", run_id=control.pk)


@login_required
@require_GET
def run_download(request: HttpRequest, run_id: int) -> StreamingHttpResponse:
    return run_artifacts_download(run_get_for_user(request.user, run_id))


@login_required
@require_GET
def run_log(request: HttpRequest, run_id: int) -> HttpResponse:
    """The end of the trainer's log (why a run failed), with a link to all of it."""
    run = run_get_for_user(request.user, run_id)
    text, cut = run_log_text(run)
    return render(request, "training/run_log.html", {"run": run, "log": text, "cut": cut})


@login_required
@require_GET
def run_log_file(request: HttpRequest, run_id: int) -> StreamingHttpResponse:
    return run_log_download(run_get_for_user(request.user, run_id))
