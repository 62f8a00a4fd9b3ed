"""Reads that enforce access rules. Outsiders get 404, never a hint that a thing exists."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from annotation.models import (
    LABELER_ATTRIBUTES,
    ExportJob,
    ImportJob,
    LabelerGroup,
    LabelerProfile,
    Project,
)
from annotation.roles import is_labeler, is_researcher


def project_list_for_user(user: Any) -> QuerySet[Project]:
    if is_researcher(user):
        return Project.objects.all()
    if is_labeler(user):
        return Project.objects.filter(Q(open_to_all_labelers=True) | Q(labelers=user)).distinct()
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


def labeler_group_map(user_ids: Iterable[int] | None = None) -> dict[int, list[str]]:
    """user id -> sorted names of the labeler groups they belong to (explicit or by rules).

    Two queries for the groups and one for the profiles, whatever the number of labelers.
    """
    groups = list(LabelerGroup.objects.prefetch_related("rules", "members"))
    profiles = LabelerProfile.objects.all()
    if user_ids is not None:
        profiles = profiles.filter(user_id__in=list(user_ids))
    result: dict[int, set[str]] = defaultdict(set)
    attrs = {p.user_id: {a: getattr(p, a) for a in LABELER_ATTRIBUTES} for p in profiles if p.consent_given_at}
    wanted = set(user_ids) if user_ids is not None else None
    for group in groups:
        for member in group.members.all():
            if wanted is None or member.pk in wanted:
                result[member.pk].add(group.name)
        rules: dict[str, set[str]] = defaultdict(set)
        for rule in group.rules.all():
            rules[rule.attribute].add(rule.value)
        if not rules:
            continue
        for user_id, values in attrs.items():
            if all(values.get(attribute) in allowed for attribute, allowed in rules.items()):
                result[user_id].add(group.name)
    return {user_id: sorted(names) for user_id, names in result.items()}


def group_members(group: LabelerGroup) -> list[int]:
    """User ids in a group (explicit members and rule matches)."""
    membership = labeler_group_map()
    return sorted(uid for uid, names in membership.items() if group.name in names)


def labelers_for_admin() -> QuerySet[Any]:
    return (
        get_user_model()
        .objects.filter(groups__name="labeler")
        .select_related("labeler_profile")
        .order_by("username")
    )
