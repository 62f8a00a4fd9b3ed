"""Labelers and groups: users with roles and consented attributes, and labeler groups (by rule,
explicit members, or both; `priority` decides the one group a labeler in several counts in
for training runs, issue 11)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotation.models import (
    AttributeDefinition,
    AuditAction,
    GroupRule,
    LabelerGroup,
    LabelerProfile,
    Reservation,
)
from annotation.roles import LABELER, ROLES, user_cache_forget
from annotation.services.access import reservations_release_lost_access
from annotation.services.audit import labeler_audit_event_record


@transaction.atomic
def user_create(
    *, username: str, password: str, role: str, email: str = "", **attributes: Any
) -> Any:
    """Create a user with a role; labelers get a profile (attributes need `consent=True`)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    user = get_user_model().objects.create_user(username=username, password=password, email=email)
    user.groups.add(Group.objects.get(name=role))
    if role == LABELER:
        labeler_profile_update(user=user, **attributes)
    return user


def labeler_profile_update(
    *, user: Any, consent: bool = False, **attributes: Any
) -> LabelerProfile:
    """Set (or, with an empty value, remove) attributes on the labeler's profile; attributes
    need recorded consent (`consent=True` records it now)."""
    profile, _ = LabelerProfile.objects.get_or_create(user=user)
    merged = {**profile.attributes, **attributes}
    profile.attributes = {name: value for name, value in merged.items() if value}
    if consent and profile.consent_given_at is None:
        profile.consent_given_at = timezone.now()
    profile.full_clean()
    profile.save()
    return profile


@transaction.atomic
def labeler_group_create(
    *,
    name: str,
    description: str = "",
    rules: dict[str, list[str]] | None = None,
    member_ids: list[int] | None = None,
    priority: int = 100,
) -> LabelerGroup:
    """A group by attribute rules ({"age_range": ["18-29"]}), explicit members, or both.
    `priority`: a labeler in several groups counts, in training runs, in the lowest-numbered.
    Raises ValidationError naming `name`, `rules` or `member_ids`; creates nothing then."""
    group = LabelerGroup(name=name, description=description, priority=priority)
    group.full_clean()
    group.save()
    errors = _rules_set(group, rules or {})
    if member_ids:
        errors.update(_members_set(group, member_ids))
    if errors:
        raise ValidationError(errors)  # rolls back the group (atomic)
    return group


def _rules_set(group: LabelerGroup, rules: dict[str, list[str]]) -> dict[str, list[str]]:
    """Replace the group's rules; {"rules": [messages]} for the invalid ones (none saved then,
    as the caller's transaction rolls back)."""
    group.rules.all().delete()
    errors: list[str] = []
    options = dict(AttributeDefinition.objects.values_list("name", "options"))
    for attribute, values in rules.items():
        if attribute not in options:
            errors.append(f"{attribute[:40]!r}: no such attribute (see Attribute definitions).")
            continue
        if unknown := [v for v in values if options[attribute] and v not in options[attribute]]:
            errors.append(f"{attribute}: {unknown[0][:40]!r} is not one of its answers.")
            continue
        for value in dict.fromkeys(values):
            rule = GroupRule(group=group, attribute=attribute, value=value)
            try:
                rule.full_clean(exclude=["group"])
            except ValidationError as exc:
                errors.extend(f"{attribute}={value[:40]!r}: {message}" for message in exc.messages)
            else:
                rule.save()
    return {"rules": errors} if errors else {}


def _members_set(group: LabelerGroup, member_ids: list[int]) -> dict[str, list[str]]:
    """Replace the group's explicit members with labelers `member_ids`."""
    found = set(
        get_user_model()
        .objects.filter(pk__in=member_ids, groups__name=LABELER)
        .values_list("pk", flat=True)
    )
    if missing := sorted(set(member_ids) - found):
        return {"member_ids": [f"No such labelers: {', '.join(map(str, missing[:20]))}."]}
    group.members.set(found)
    return {}


_UNSET: Any = object()


@transaction.atomic
def labeler_group_update(
    *,
    group: LabelerGroup,
    name: str = _UNSET,
    description: str = _UNSET,
    priority: int = _UNSET,
    rules: dict[str, list[str]] = _UNSET,
    member_ids: list[int] = _UNSET,
) -> LabelerGroup:
    """Change what is given (rules and members are replaced as a whole); labelers who leave
    the group and so lose access to a project lose their open reservations there. Raises
    ValidationError naming the field; changes nothing then."""
    for field, value in (("name", name), ("description", description), ("priority", priority)):
        if value is not _UNSET:
            setattr(group, field, value)
    group.full_clean()
    group.save()
    errors = _rules_set(group, rules) if rules is not _UNSET else {}
    if member_ids is not _UNSET:
        errors.update(_members_set(group, member_ids))
    if errors:
        raise ValidationError(errors)
    reservations_release_lost_access(project_ids=list(group.projects.values_list("pk", flat=True)))
    return group


@transaction.atomic
def labeler_group_members_change(
    *, group: LabelerGroup, add: Sequence[int] = (), remove: Sequence[int] = ()
) -> LabelerGroup:
    """Add and remove explicit members (labelers only; ValidationError naming `member_ids`)."""
    current = set(group.members.values_list("pk", flat=True))
    return labeler_group_update(group=group, member_ids=sorted((current | set(add)) - set(remove)))


@transaction.atomic
def labeler_group_delete(*, group: LabelerGroup) -> None:
    """Delete a group (its quotas go with it; judgments keep the ids they recorded, which no
    longer resolve to a group). Its members lose access to projects open only through it."""
    project_ids = list(group.projects.values_list("pk", flat=True))
    group.delete()
    reservations_release_lost_access(project_ids=project_ids)


@transaction.atomic
def labeler_deactivate(*, user: Any, by: Any) -> LabelerProfile:
    """Deactivate a labeler: their user becomes inactive (login refused, sessions and API
    tokens stop working), every open reservation of theirs is released at once so others get
    those items, and who/when is recorded. Their judgments stay (reports, exports, training)."""
    profile, _ = LabelerProfile.objects.select_for_update().get_or_create(user=user)
    if profile.deactivated_at is None:
        profile.deactivated_at = timezone.now()
        profile.deactivated_by = by
        profile.save(update_fields=["deactivated_at", "deactivated_by"])
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    user_cache_forget(user.pk)  # an update() sends no signal
    user.is_active = False
    Reservation.objects.filter(labeler=user).delete()
    labeler_audit_event_record(labeler=user, action=AuditAction.DEACTIVATED, actor=by)
    return profile


@transaction.atomic
def labeler_reactivate(*, user: Any, by: Any = None) -> LabelerProfile:
    """Let a deactivated labeler log in and label again (`by`: the admin, for the audit)."""
    profile, _ = LabelerProfile.objects.select_for_update().get_or_create(user=user)
    profile.deactivated_at = None
    profile.deactivated_by = None
    profile.save(update_fields=["deactivated_at", "deactivated_by"])
    get_user_model().objects.filter(pk=user.pk).update(is_active=True)
    user_cache_forget(user.pk)
    user.is_active = True
    labeler_audit_event_record(labeler=user, action=AuditAction.REACTIVATED, actor=by)
    return profile
