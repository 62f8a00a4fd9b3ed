"""Projects and their jobs as a user may see them. Outsiders get 404, never a hint that a thing
exists."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404

from annotation.models import ExportJob, ImportJob, JobStatus, LabelerGroup, Project, ProjectKind
from annotation.roles import is_labeler, is_researcher
from annotation.selectors.membership import member_of_q


def labeler_access_q(user_id: int) -> Q:
    """THE project access rule for labelers, as one filter on Project: open to all labelers, or
    the labeler was chosen (or came through the recruitment link: `Project.labelers`), or they
    belong (explicitly or by rule) to one of the project's `labeler_groups`. Pure SQL, so a
    project lookup stays one query whatever the mode; the subqueries only matter (and only run,
    in practice) for restricted projects."""
    chosen = Project.labelers.through.objects.filter(project_id=OuterRef("pk"), user_id=user_id)
    in_group = LabelerGroup.objects.filter(projects=OuterRef("pk")).filter(member_of_q(user_id))
    return Q(open_to_all_labelers=True) | Q(Exists(chosen)) | Q(Exists(in_group))


def project_list_for_user(user: Any) -> QuerySet[Project]:
    """Researchers and admins: every project; labelers: the ones they may work on (the one
    access check: every labeler page and endpoint of a project reaches it through here)."""
    if is_researcher(user):
        return Project.objects.all()
    if is_labeler(user):  # rating projects hold imported ratings: no labeling workbench yet
        return Project.objects.filter(labeler_access_q(user.pk)).exclude(kind=ProjectKind.RATING)
    return Project.objects.none()


def project_get_for_user(user: Any, project_id: int) -> Project:
    """A project the user may see (labelers: only the ones they may work on; one query)."""
    try:
        return project_list_for_user(user).get(pk=project_id)
    except Project.DoesNotExist:
        raise Http404("No such project.") from None


def project_get_for_researcher(user: Any, project_id: int) -> Project:
    """A project the user may manage: researchers and admins only."""
    if not is_researcher(user):
        raise Http404("No such project.")
    return project_get_for_user(user, project_id)


def project_stats(project: Project) -> dict[str, int]:
    return {
        "prompts": project.prompts.count(),
        "items": project.items.count(),
        **project.items.aggregate(
            human_judgments=Count("judgments", filter=Q(judgments__source="human")),
            external_judgments=Count("judgments", filter=Q(judgments__source="external")),
        ),
    }


def import_job_get(user: Any, job_id: int) -> ImportJob:
    if not is_researcher(user):
        raise Http404
    try:
        return ImportJob.objects.select_related("project").get(pk=job_id)
    except ImportJob.DoesNotExist:
        raise Http404 from None


def export_job_get(user: Any, job_id: int) -> ExportJob:
    if not is_researcher(user):
        raise Http404
    try:
        return ExportJob.objects.select_related("project").get(pk=job_id)
    except ExportJob.DoesNotExist:
        raise Http404 from None


def export_job_get_ready(user: Any, job_id: int) -> ExportJob:
    """An export job whose file can be downloaded; 404 while it is not written (or failed)."""
    job = export_job_get(user, job_id)
    if job.status != JobStatus.SUCCEEDED or not job.file:
        raise Http404("The export is not ready.")
    return job
