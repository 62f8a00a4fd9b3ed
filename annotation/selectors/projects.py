"""Projects and their jobs as a user may see them. Outsiders get 404, never a hint that a thing
exists."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from annotation.models import ExportJob, ImportJob, JobStatus, Project, ProjectKind
from annotation.roles import is_labeler, is_researcher


def project_list_for_user(user: Any) -> QuerySet[Project]:
    """Researchers: every project, archived ones too. Labelers: the live projects they may work
    on (an archived project leaves their lists, queues and workbench: 404)."""
    if is_researcher(user):
        return Project.objects.all()
    if is_labeler(user):  # rating projects hold imported ratings: no labeling workbench yet
        return (
            Project.objects.filter(Q(open_to_all_labelers=True) | Q(labelers=user))
            .filter(archived_at__isnull=True)
            .exclude(kind=ProjectKind.RATING)
            .distinct()
        )
    return Project.objects.none()


def project_get_for_user(user: Any, project_id: int) -> Project:
    """A project the user may see (labelers: only the ones they may work on)."""
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
