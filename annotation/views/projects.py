"""Researchers' and admins' pages: projects, imports, exports, guidelines, labelers.

Parse, call a service, render; htmx requests get the page's fragment.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from annotation.forms import (
    ExportForm,
    GuidelinesForm,
    ImportForm,
    ProjectAccessForm,
    ProjectCloneForm,
    ProjectDeleteForm,
    ProjectForm,
    ProjectSettingsForm,
    rubric_text,
)
from annotation.home import ALERTS, RECENT_RUNS, home_read
from annotation.http import HtmxHttpRequest
from annotation.models import JobStatus, LabelerGroup, Project
from annotation.reports.throughput import throughput_chart
from annotation.roles import is_admin, is_labeler, is_researcher
from annotation.selectors.home import (
    admin_alerts,
    group_rows,
    labeler_totals,
    projects_completion,
    research_totals,
)
from annotation.selectors.labeler_admin import labeler_ids_by_name, project_access
from annotation.selectors.labelers import groups_with_sizes, min_group_size
from annotation.selectors.labeling import labeler_queues
from annotation.selectors.projects import (
    export_job_get_ready,
    import_job_get,
    project_completion,
    project_get_for_researcher,
    project_import_jobs,
    project_list_for_user,
    project_stats,
    project_throughput,
)
from annotation.services.access import project_access_update
from annotation.services.exports import export_filename, export_job_create
from annotation.services.imports import import_job_create
from annotation.services.projects import (
    guidelines_update,
    project_archive,
    project_clone,
    project_create,
    project_delete,
    project_update,
)
from annotation.uploads import upload_refusal


def _form_errors(form: Any) -> str:
    return "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The dashboard: each role's sections, each showing only what that role may see."""
    if not (is_researcher(request.user) or is_labeler(request.user)):
        return render(request, "annotation/no_role.html", status=403)
    return render(request, "annotation/home.html", _home_context(request.user))


def _home_context(user: Any) -> dict[str, Any]:
    queues = labeler_queues(user)  # [] unless a labeler
    context: dict[str, Any] = {
        "queues": queues,
        "waiting": sum(q.remaining for q in queues),
        "judged": sum(q.done for q in queues),
    }
    if is_researcher(user):
        context |= {
            "totals": research_totals(),
            "projects": projects_completion(),
            "runs": home_read(RECENT_RUNS, 5),
        }
    if is_admin(user):
        groups = group_rows()
        alerts = admin_alerts(groups) + home_read(ALERTS)
        context |= {"labelers": labeler_totals(), "groups": groups, "alerts": alerts}
    return context


@login_required
@require_http_methods(["GET", "POST"])
def project_list(request: HttpRequest) -> HttpResponse:
    if not is_researcher(request.user):
        return (
            redirect("annotation:labeler_home")
            if is_labeler(request.user)
            else render(request, "annotation/no_role.html", status=403)
        )
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = project_create(created_by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("annotation:project_detail", project_id=project.pk)
    projects = project_list_for_user(request.user)
    return render(request, "annotation/project_list.html", {"projects": projects, "form": form})


@login_required
@require_GET
@vary_on_headers("HX-Request")
def project_detail(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    return _project_page(request, project_get_for_researcher(request.user, project_id))


def _project_page(
    request: HtmxHttpRequest,
    project: Any,
    status: int = 200,
    access_form: Any = None,
    import_form: ImportForm | None = None,
    **forms: Any,
) -> HttpResponse:
    access = project_access(project, for_admin=is_admin(request.user))
    context = {
        **_lifecycle_context(request, project, **forms),
        "access": access,
        "access_form": access_form or _access_form(request, project, access),
        "minimum": min_group_size(),
        "project": project,
        "stats": project_stats(project),
        "imports": project_import_jobs(project),
        "exports": project.exports.all()[:10],
        "import_form": import_form or ImportForm(prefix="import"),
        "export_form": ExportForm(prefix="export"),
        "guidelines_form": GuidelinesForm(
            initial={"text": getattr(project.current_guidelines, "text", "")}
        ),
        "active_statuses": (JobStatus.QUEUED, JobStatus.RUNNING),
    }
    template = (
        "annotation/project_detail.html#jobs" if request.htmx else "annotation/project_detail.html"
    )
    return render(request, template, context, status=status)


@login_required
@require_POST
def import_create(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_researcher(request.user, project_id)
    form = ImportForm(request.POST, request.FILES, prefix="import")
    if (refusal := upload_refusal(request)) is not None:
        messages.error(request, f"Import not started: file: {refusal}")
        return _project_page(request, project, status=413)
    if not form.is_valid():  # re-rendered with the choices kept and the fields' errors
        messages.error(request, f"Import not started: {_form_errors(form)}")
        return _project_page(request, project, status=400, import_form=form)
    job = import_job_create(
        project=project,
        fmt=form.cleaned_data["format"],
        upload=form.cleaned_data["file"],
        created_by=request.user,
        mapping=form.cleaned_data["mapping"],
        annotators_upload=form.cleaned_data["annotators_file"],
    )
    if job.status == JobStatus.FAILED:  # an inline import: said once, here, beside the file
        form.add_error("file", f"Nothing was imported: {job.error}")
        return _project_page(request, project, status=400, import_form=form)
    return redirect("annotation:project_detail", project_id=project.pk)


@login_required
@require_POST
def export_create(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_researcher(request.user, project_id)
    form = ExportForm(request.POST, prefix="export")
    if form.is_valid():
        export_job_create(project=project, fmt=form.cleaned_data["format"], created_by=request.user)
    else:
        messages.error(request, f"Export not started: {_form_errors(form)}")
    return redirect("annotation:project_detail", project_id=project.pk)


@login_required
@require_POST
def guidelines_edit(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_researcher(request.user, project_id)
    form = GuidelinesForm(request.POST)
    if form.is_valid():
        guidelines_update(project=project, text=form.cleaned_data["text"])
    return redirect("annotation:project_detail", project_id=project.pk)


@login_required
@require_GET
def import_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = import_job_get(request.user, job_id)
    return render(request, "annotation/import_detail.html", {"job": job})


@login_required
@require_GET
def export_download(request: HttpRequest, job_id: int) -> FileResponse:
    job = export_job_get_ready(request.user, job_id)
    return FileResponse(job.file.open("rb"), as_attachment=True, filename=export_filename(job))


def _access_form(request: HttpRequest, project: Any, access: Any) -> ProjectAccessForm:
    initial = {
        "mode": "all" if access.open_to_all else "chosen",
        "groups": [g.pk for g, _, chosen in access.groups if chosen],
        "labelers": "\n".join(u.username for u in access.labelers),
    }
    choices = [(g.pk, g.name) for g, _, _ in access.groups]
    data = request.POST if request.method == "POST" else None
    return ProjectAccessForm(data, initial=initial, group_choices=choices)


def _access_save(request: HttpRequest, project: Any, form: ProjectAccessForm) -> bool:
    admin = is_admin(request.user)
    labeler_ids = None
    if admin:
        names = form.usernames()
        labeler_ids = labeler_ids_by_name(names)
        if len(labeler_ids) < len(set(names)):
            form.add_error("labelers", "Some of these are not labelers' usernames.")
            return False
    try:
        project_access_update(
            project=project, open_to_all=form.cleaned_data["mode"] == "all",
            group_ids=form.cleaned_data["groups"], labeler_ids=labeler_ids, for_admin=admin,
        )  # fmt: skip
    except ValidationError as exc:
        form.add_error(None, exc)
        return False
    return True


@login_required
@require_POST
def project_access_edit(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    """Who may label the project: researchers pick among the groups they may see; admins also
    the chosen labelers. Labelers who lose access lose their open reservations there."""
    project = project_get_for_researcher(request.user, project_id)
    access = project_access(project, for_admin=is_admin(request.user))
    form = _access_form(request, project, access)
    if form.is_valid() and _access_save(request, project, form):
        messages.success(request, "Access saved.")
        return redirect("annotation:project_detail", project_id=project.pk)
    return _project_page(request, project, status=422, access_form=form)


# --- Project lifecycle: settings, archive, clone, delete; completion and throughput ---------


def _visible_groups(user: Any) -> list[LabelerGroup]:
    """The groups whose quotas this user may edit: researchers do not see small groups."""
    return [group for group, _ in groups_with_sizes(for_admin=is_admin(user))]


def _settings_form(request: HttpRequest, project: Project) -> ProjectSettingsForm:
    quotas = dict(project.quotas.values_list("group_id", "min_per_item"))
    groups = _visible_groups(request.user)
    initial = {
        "name": project.name, "description": project.description,
        "overlap_target": project.overlap_target, "rationale_required": project.rationale_required,
        "gold_threshold": project.gold_threshold, "screening_threshold": project.screening_threshold,
        "screening_min_items": project.screening_min_items,
        "edit_window_minutes": project.edit_window_minutes,
        "rubric": rubric_text(project.current_criteria()),
        **{f"quota_{g.pk}": quotas.get(g.pk, 0) for g in groups},
    }  # fmt: skip
    return ProjectSettingsForm(initial=initial, groups=groups)


def _lifecycle_context(request: HttpRequest, project: Project, **forms: Any) -> dict[str, Any]:
    throughput = project_throughput(project, for_admin=is_admin(request.user))
    return {
        "completion": project_completion(project),
        "throughput": throughput,
        "throughput_chart": throughput_chart(throughput.start, throughput.series),
        "settings_form": forms.get("settings_form") or _settings_form(request, project),
        "clone_form": forms.get("clone_form")
        or ProjectCloneForm(prefix="clone", initial={"name": f"{project.name} (copy)"}),
    }


@login_required
@require_POST
def project_settings(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_researcher(request.user, project_id)
    form = ProjectSettingsForm(request.POST, groups=_visible_groups(request.user))
    if form.is_valid():
        # quotas of groups this user cannot see stay as they are
        quotas = {**dict(project.quotas.values_list("group_id", "min_per_item")), **form.quotas()}
        try:
            project = project_update(
                project=project, quotas=quotas, criteria=form.cleaned_data["rubric"],
                **form.settings(),
            )  # fmt: skip
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _saved_message(project_completion(project)))
            return redirect("annotation:project_detail", project_id=project.pk)
    return _project_page(request, project, status=400, settings_form=form)


def _add_errors(form: Any, exc: ValidationError) -> None:
    """A service's ValidationError onto the form, on the fields it names."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def _saved_message(completion: dict[str, Any]) -> str:
    if not completion["over"]:
        return "Settings saved."
    return (
        f"Settings saved. {completion['over']} items already have more judgments than the new "
        "overlap target: every judgment is kept, and they are handed to nobody else."
    )


@login_required
@require_POST
def project_archive_toggle(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_researcher(request.user, project_id)
    archived = request.POST.get("archived") != "0"
    project_archive(project=project, archived=archived)
    messages.success(
        request,
        "Archived: labelers no longer see it."
        if archived
        else "Unarchived: labelers see it again.",
    )
    return redirect("annotation:project_detail", project_id=project.pk)


@login_required
@require_POST
def project_clone_create(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_researcher(request.user, project_id)
    form = ProjectCloneForm(request.POST, prefix="clone")
    if form.is_valid():
        try:
            clone = project_clone(
                project=project, name=form.cleaned_data["name"], created_by=request.user
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Cloned from {project.name}: settings, no data.")
            return redirect("annotation:project_detail", project_id=clone.pk)
    return _project_page(request, project, status=400, clone_form=form)


@login_required
@require_http_methods(["GET", "POST"])
def project_delete_confirm(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_get_for_researcher(request.user, project_id)
    form = ProjectDeleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project_delete(project=project, confirm_name=form.cleaned_data["confirm_name"])
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Deleted the project {project.name}.")
            return redirect("annotation:project_list")
    context = {"project": project, "form": form, "stats": project_stats(project)}
    status = 400 if request.method == "POST" else 200
    return render(request, "annotation/project_delete.html", context, status=status)
