"""Labelers and their groups: membership (explicit or by rules), pseudonyms, the admin's list."""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model

from annotation.models import (
    LABELER_ATTRIBUTES,
    GroupRule,
    Judgment,
    LabelerGroup,
    LabelerProfile,
    Project,
)


def labeler_group_map(user_ids: Iterable[int] | None = None) -> dict[int, list[str]]:
    """user id -> sorted names of the labeler groups they belong to (explicit or by rules).

    Three queries whatever the number of labelers or groups: rules, explicit memberships (only
    of the wanted users) and consenting profiles (likewise).
    """
    wanted = set(user_ids) if user_ids is not None else None
    memberships = LabelerGroup.members.through.objects.values_list("user_id", "labelergroup__name")
    profiles = LabelerProfile.objects.filter(consent_given_at__isnull=False)
    if wanted is not None:
        memberships = memberships.filter(user_id__in=wanted)
        profiles = profiles.filter(user_id__in=wanted)
    result: dict[int, set[str]] = defaultdict(set)
    for user_id, name in memberships:
        result[user_id].add(name)
    rules: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for name, attribute, value in GroupRule.objects.values_list(
        "group__name", "attribute", "value"
    ):
        rules[name][attribute].add(value)
    if rules:
        for profile in profiles.only("user_id", *LABELER_ATTRIBUTES):
            values = {a: getattr(profile, a) for a in LABELER_ATTRIBUTES}
            for name, by_attribute in rules.items():
                if all(values[attribute] in allowed for attribute, allowed in by_attribute.items()):
                    result[profile.user_id].add(name)
    return {user_id: sorted(names) for user_id, names in result.items()}


def group_members(group: LabelerGroup) -> list[int]:
    """User ids in a group (explicit members and rule matches)."""
    membership = labeler_group_map()
    return sorted(uid for uid, names in membership.items() if group.name in names)


class LabelerRow(NamedTuple):
    user: Any
    profile: LabelerProfile | None
    groups: list[str]  # names of the labeler groups they belong to


def labelers_for_admin() -> list[LabelerRow]:
    """Every labeler by username, with their profile (attributes) and groups: for admins only."""
    users = list(
        get_user_model()
        .objects.filter(groups__name="labeler")
        .select_related("labeler_profile")
        .order_by("username")
    )
    membership = labeler_group_map([u.pk for u in users])
    return [
        LabelerRow(user, getattr(user, "labeler_profile", None), membership.get(user.pk, []))
        for user in users
    ]


def pseudonym_map(project: Project) -> dict[int, str]:
    """user id -> pseudonym of everyone who judged in the project: the one they chose, else a
    keyed hash of their id (stable, never their name)."""
    ids = (
        Judgment.objects.filter(item__project=project, labeler__isnull=False)
        .values_list("labeler_id", flat=True)
        .distinct()
    )
    known = dict(LabelerProfile.objects.filter(user_id__in=ids).values_list("user_id", "pseudonym"))
    key = settings.SECRET_KEY.encode()
    return {
        uid: known.get(uid)
        or "L-" + hmac.new(key, str(uid).encode(), hashlib.sha256).hexdigest()[:12]
        for uid in ids
    }
