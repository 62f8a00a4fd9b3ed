"""Who may label a project: all labelers, or chosen labelers (picked by an admin or recruited
through the project's link) and the members of chosen groups. The check itself is
`annotation.selectors.projects.labeler_access_q`; this module writes the setting and releases
the open reservations of labelers who lose access (their past judgments stay)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotation.models import LabelerGroup, Project, Reservation
from annotation.roles import LABELER
from annotation.selectors.labelers import groups_with_sizes
from annotation.selectors.projects import labeler_access_q


@transaction.atomic
def project_access_update(
    *,
    project: Project,
    open_to_all: bool,
    group_ids: Iterable[int],
    labeler_ids: Iterable[int] | None = None,
    for_admin: bool,
) -> Project:
    """Set who may label the project. Researchers (`for_admin=False`) choose only among the
    groups they may see (at or above the minimum group size); groups hidden from them that an
    admin chose stay. `labeler_ids` (admins only; None keeps them) replaces the chosen labelers.
    Raises ValidationError naming `group_ids` or `labeler_ids`; changes nothing then."""
    visible = {g.pk for g, _ in groups_with_sizes(for_admin=for_admin)}
    wanted = set(group_ids)
    if unknown := sorted(wanted - visible):
        raise ValidationError({"group_ids": f"No such groups: {', '.join(map(str, unknown))}."})
    kept = set(project.labeler_groups.exclude(pk__in=visible).values_list("pk", flat=True))
    project.open_to_all_labelers = open_to_all
    project.save(update_fields=["open_to_all_labelers"])
    project.labeler_groups.set(LabelerGroup.objects.filter(pk__in=wanted | kept))
    if labeler_ids is not None:
        project.labelers.set(_labelers(labeler_ids))
    reservations_release_lost_access(project_ids=[project.pk])
    return project


def _labelers(ids: Iterable[int]) -> list[int]:
    wanted = set(ids)
    found = set(
        get_user_model()
        .objects.filter(pk__in=wanted, groups__name=LABELER)
        .values_list("pk", flat=True)
    )
    if missing := sorted(wanted - found):
        raise ValidationError(
            {"labeler_ids": f"No such labelers: {', '.join(map(str, missing[:20]))}."}
        )
    return sorted(found)


def reservations_release_lost_access(*, project_ids: Iterable[int]) -> int:
    """Delete the open reservations, in these projects, of labelers who may no longer label
    there (so other labelers get those items now). One access query per labeler holding one;
    returns how many were released."""
    open_reservations = Reservation.objects.filter(
        item__project_id__in=list(project_ids), expires_at__gt=timezone.now()
    ).exclude(item__project__open_to_all_labelers=True)
    released = 0
    holders: dict[int, set[int]] = {}
    for labeler_id, project_id in open_reservations.values_list("labeler_id", "item__project_id"):
        holders.setdefault(labeler_id, set()).add(project_id)
    for labeler_id, held in holders.items():
        allowed = set(
            Project.objects.filter(labeler_access_q(labeler_id), pk__in=held).values_list(
                "pk", flat=True
            )
        )
        if lost := held - allowed:
            released += open_reservations.filter(
                labeler_id=labeler_id, item__project_id__in=lost
            ).delete()[0]
    return released


def reservations_release_after_change(*, labeler: Any) -> int:
    """After a labeler's attributes or consent changed (they may have left a rule group that
    gave them access): release their open reservations in projects they may no longer label."""
    held = Reservation.objects.filter(labeler=labeler).values_list("item__project_id", flat=True)
    return reservations_release_lost_access(project_ids=set(held)) if held else 0
