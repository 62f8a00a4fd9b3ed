"""Labelers and groups: users with roles and consented attributes, and labeler groups (by rule,
explicit members, or both; `priority` decides the one group a labeler in several counts in
for training runs, issue 11)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotation.models import GroupRule, LabelerGroup, LabelerProfile
from annotation.roles import LABELER, ROLES


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
    errors: dict[str, list[str]] = {}
    for attribute, values in (rules or {}).items():
        for value in values:
            rule = GroupRule(group=group, attribute=attribute, value=value)
            try:
                rule.full_clean(exclude=["group"])
            except ValidationError as exc:
                errors.setdefault("rules", []).extend(
                    f"{attribute}={value[:40]!r}: {message}" for message in exc.messages
                )
            else:
                rule.save()
    if member_ids:
        found = set(get_user_model().objects.filter(pk__in=member_ids).values_list("pk", flat=True))
        if missing := sorted(set(member_ids) - found):
            errors["member_ids"] = [f"No such users: {', '.join(map(str, missing[:20]))}."]
        else:
            group.members.set(member_ids)
    if errors:
        raise ValidationError(errors)  # rolls back the group (atomic)
    return group
