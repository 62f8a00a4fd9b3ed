"""Projects and their jobs as a user may see them. Outsiders get 404, never a hint that a thing
exists."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from annotation.models import (
    ExportJob,
    ImportJob,
    ItemPurpose,
    JobStatus,
    Judgment,
    JudgmentSource,
    LabelerGroup,
    Project,
    ProjectKind,
)
from annotation.roles import is_labeler, is_researcher
from annotation.selectors.labelers import groups_with_sizes
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
    """Researchers and admins: every project, archived ones too; labelers: the live ones they
    may work on (the one access check: every labeler page and endpoint of a project reaches it
    through here, so an archived project leaves their lists, queues and workbench: 404)."""
    if is_researcher(user):
        return Project.objects.all()
    if is_labeler(user):
        return labeler_projects(user.pk)
    return Project.objects.none()


def labeler_projects(user_id: int) -> QuerySet[Project]:
    """The live projects a labeler may work on (rating projects hold imported ratings: no
    labeling workbench yet)."""
    return Project.objects.filter(labeler_access_q(user_id), archived_at__isnull=True).exclude(
        kind=ProjectKind.RATING
    )


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


FAILED_IMPORTS_SHOWN_FOR = timedelta(days=1)


def project_import_jobs(project: Project) -> list[ImportJob]:
    """The project page's recent imports, newest first: a failed one only for a day after it
    failed (its page, import_detail, keeps the error)."""
    cutoff = timezone.now() - FAILED_IMPORTS_SHOWN_FOR
    jobs = project.imports.exclude(status=JobStatus.FAILED, finished_at__lt=cutoff)
    return list(jobs.order_by("-created_at", "-pk")[:10])


def project_completion(project: Project) -> dict[str, Any]:
    """Items (screening items left out: they are a test, not data) that reached the overlap
    target, out of all; items judged beyond a lowered target count as done."""
    counts = project.items.exclude(purpose=ItemPurpose.SCREENING).aggregate(
        total=Count("pk"),
        done=Count("pk", filter=Q(human_judgment_count__gte=project.overlap_target)),
        over=Count("pk", filter=Q(human_judgment_count__gt=project.overlap_target)),
    )
    counts["percent"] = round(100 * counts["done"] / counts["total"], 1) if counts["total"] else 0
    return counts


@dataclass
class Throughput:
    start: datetime  # the first hour
    series: dict[str, list[int]]  # "All labelers" and each shown group -> judgments per hour
    hidden_groups: int  # groups left out: below CHORUS_MIN_GROUP_SIZE (researchers)


ALL_LABELERS = "All labelers"


def project_throughput(project: Project, *, for_admin: bool, days: int = 14) -> Throughput:
    """Labelers' judgments per hour over the last `days` (from the first judgment's hour), in
    total and per labeler group as recorded on each judgment when it was saved. Researchers do
    not get groups below the minimum size (annotation.privacy); admins get every group."""
    now = timezone.now()
    rows = list(
        Judgment.objects.filter(
            item__project=project,
            source=JudgmentSource.HUMAN,
            created_at__gte=now - timedelta(days=days),
        ).values_list("created_at", "labeler_group_ids")
    )
    shown = {g.pk: g.name for g, _ in groups_with_sizes(for_admin=for_admin)}
    hidden = 0 if for_admin else LabelerGroup.objects.count() - len(shown)
    if not rows:
        return Throughput(start=now, series={}, hidden_groups=hidden)
    start = min(at for at, _ in rows).replace(minute=0, second=0, microsecond=0)
    hours = int((now - start).total_seconds() // 3600) + 1
    counts: dict[str, Counter[int]] = {ALL_LABELERS: Counter()}
    for at, group_ids in rows:
        hour = int((at - start).total_seconds() // 3600)
        counts[ALL_LABELERS][hour] += 1
        for gid in group_ids or ():
            if gid in shown:
                counts.setdefault(shown[gid], Counter())[hour] += 1
    names = [ALL_LABELERS, *sorted(n for n in counts if n != ALL_LABELERS)]
    series = {name: [counts[name][h] for h in range(hours)] for name in names}
    return Throughput(start=start, series=series, hidden_groups=hidden)


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
