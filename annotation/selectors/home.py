"""The home dashboard's reads for researchers and admins (the labeler's queues are
selectors/labeling.py `labeler_queues`). Every function runs a fixed number of queries,
whatever the number of projects, groups or labelers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q
from django.urls import reverse
from django.utils import timezone

from annotation.home import Alert
from annotation.models import (
    ExportJob,
    ImportJob,
    Item,
    ItemPurpose,
    JobStatus,
    Judgment,
    Project,
    ProjectKind,
)
from annotation.roles import LABELER
from annotation.selectors.labelers import groups_with_sizes, min_group_size

RECENT = timedelta(days=7)  # how far back failed jobs count as alerts


@dataclass(frozen=True)
class ProjectCompletion:
    project: Project
    items: int  # regular and gold items
    complete: int  # of those, judged by as many labelers as the overlap target

    @property
    def percent(self) -> int:
        return round(100 * self.complete / self.items) if self.items else 0


@dataclass(frozen=True)
class GroupRow:
    name: str
    size: int
    below_minimum: bool


def _today() -> Any:
    return timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)


def projects_completion(limit: int = 12) -> list[ProjectCompletion]:
    """The newest projects with their completion (one query)."""
    counted = Q(items__purpose__in=[ItemPurpose.REGULAR, ItemPurpose.GOLD])
    complete = counted & Q(items__human_judgment_count__gte=F("overlap_target"))
    rows = Project.objects.annotate(
        n_items=Count("items", filter=counted), n_complete=Count("items", filter=complete)
    ).order_by("-created_at", "-pk")[:limit]
    return [ProjectCompletion(p, p.n_items, p.n_complete) for p in rows]  # type: ignore[attr-defined]


def research_totals() -> dict[str, int]:
    """Projects, regular and gold items (and how many are complete), and human judgments made
    today (three queries)."""
    items = Item.objects.filter(purpose__in=[ItemPurpose.REGULAR, ItemPurpose.GOLD]).aggregate(
        items=Count("pk"),
        complete=Count("pk", filter=Q(human_judgment_count__gte=F("project__overlap_target"))),
    )
    return {
        "projects": Project.objects.count(),
        **items,
        "judgments_today": Judgment.objects.filter(
            source="human", created_at__gte=_today()
        ).count(),
    }


def labeler_totals() -> dict[str, int]:
    """Labelers, and how many of them judged something today (two queries): admins only."""
    return {
        "labelers": get_user_model().objects.filter(groups__name=LABELER).count(),
        "active_today": Judgment.objects.filter(source="human", created_at__gte=_today())
        .values("labeler")
        .distinct()
        .count(),
    }


def group_rows() -> list[GroupRow]:
    """Every labeler group with its size, flagged below CHORUS_MIN_GROUP_SIZE: admins only (who
    define groups); researchers never see the small ones."""
    minimum = min_group_size()
    return [GroupRow(g.name, n, n < minimum) for g, n in groups_with_sizes(for_admin=True)]


def admin_alerts(groups: list[GroupRow]) -> list[Alert]:
    """Failed imports and exports of the last week, groups below the minimum size and projects
    no labeler can open (three queries besides `groups`)."""
    return _failed_file_jobs() + _small_groups(groups) + _closed_projects()


def _failed_file_jobs() -> list[Alert]:
    since = timezone.now() - RECENT
    alerts = []
    for model, what in ((ImportJob, "Import"), (ExportJob, "Export")):
        failed = model.objects.filter(status=JobStatus.FAILED, created_at__gte=since)
        for job in failed.select_related("project")[:5]:
            url = reverse("annotation:project_detail", args=[job.project_id])
            detail = f"{job.project.name}: {job.error[:160]}" if job.error else job.project.name
            alerts.append(Alert("error", f"{what} #{job.pk} failed", detail, url))
    return alerts


def _small_groups(groups: list[GroupRow]) -> list[Alert]:
    minimum = min_group_size()
    url = reverse("annotation:labeler_list")
    return [
        Alert(
            "warning",
            f"Group “{g.name}” is below the minimum size",
            f"{g.size} of {minimum} labelers: researchers do not see it in reports or exports.",
            url,
        )
        for g in groups
        if g.below_minimum
    ]


def _closed_projects() -> list[Alert]:
    closed = (
        Project.objects.filter(open_to_all_labelers=False)
        .exclude(kind=ProjectKind.RATING)
        .annotate(
            chosen=Count("labelers", distinct=True),
            groups=Count("labeler_groups", distinct=True),
        )
        .filter(chosen=0, groups=0)
        .order_by("name")[:10]
    )
    return [
        Alert(
            "warning",
            f"No labeler can open “{p.name}”",
            "It is not open to all labelers, and no labeler or group is given access to it.",
            reverse("annotation:project_detail", args=[p.pk]),
        )
        for p in closed
    ]
