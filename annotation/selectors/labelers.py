"""Labelers and their groups: membership (explicit or by rules), pseudonyms, the admin's list."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection, transaction

from annotation.models import (
    GroupRule,
    Judgment,
    LabelerGroup,
    LabelerProfile,
    Project,
)
from annotation.privacy import small_groups


def _membership(user_ids: Iterable[int] | None) -> dict[int, dict[int, str]]:
    """user id -> {group id: group name} of the groups they belong to (explicit or by rules);
    three queries: rules, explicit memberships and consenting profiles (of the wanted users)."""
    wanted = set(user_ids) if user_ids is not None else None
    memberships = LabelerGroup.members.through.objects.values_list(
        "user_id", "labelergroup_id", "labelergroup__name"
    )
    profiles = LabelerProfile.objects.filter(consent_given_at__isnull=False)
    if wanted is not None:
        memberships = memberships.filter(user_id__in=wanted)
        profiles = profiles.filter(user_id__in=wanted)
    result: dict[int, dict[int, str]] = defaultdict(dict)
    for user_id, group_id, name in memberships:
        result[user_id][group_id] = name
    rules: dict[tuple[int, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for group_id, name, attribute, value in GroupRule.objects.values_list(
        "group_id", "group__name", "attribute", "value"
    ):
        rules[group_id, name][attribute].add(value)
    if rules:
        for user_id, values in profiles.values_list("user_id", "attributes"):
            for (group_id, name), by_attribute in rules.items():
                if rules_match(values, by_attribute):
                    result[user_id][group_id] = name
    return result


def rules_match(values: dict[str, Any], by_attribute: dict[str, set[str]]) -> bool:
    """Every attribute named in a group's rules has one of the values given for it."""
    return bool(by_attribute) and all(
        values.get(attribute) in allowed for attribute, allowed in by_attribute.items()
    )


def labeler_group_map(user_ids: Iterable[int] | None = None) -> dict[int, list[str]]:
    """user id -> sorted names of the labeler groups they belong to (explicit or by rules).

    Three queries whatever the number of labelers or groups: rules, explicit memberships (only
    of the wanted users) and consenting profiles (likewise).
    """
    return {uid: sorted(groups.values()) for uid, groups in _membership(user_ids).items()}


def labeler_group_id_map(user_ids: Iterable[int] | None = None) -> dict[int, list[int]]:
    """user id -> sorted ids of the labeler groups they belong to (three queries, as above)."""
    return {uid: sorted(groups) for uid, groups in _membership(user_ids).items()}


# Group ids per labeler in the shared cache (settings.CHORUS_USER_CACHE), valid while the
# generation token is unchanged: any change of a group, a rule, a membership or a profile makes a
# new one (labeler_groups_forget, from signals), so every entry is dropped at once.
_GENERATION = "chorus:lgroups:generation"
_GROUPS_SECONDS = 3600


def labeler_groups_forget() -> None:
    """Invalidate every labeler's cached groups: now and again when the transaction commits (a
    read in between may have cached what it saw before the commit)."""
    if getattr(settings, "CHORUS_USER_CACHE", False):
        cache.delete(_GENERATION)
        transaction.on_commit(lambda: cache.delete(_GENERATION))


def labeler_group_ids(user_id: int) -> list[int]:
    """Sorted ids of the groups one labeler belongs to now: from the shared cache when it holds
    them for the current generation (no statement), else `_labeler_group_ids_read`."""
    if not getattr(settings, "CHORUS_USER_CACHE", False):
        return _labeler_group_ids_read(user_id)
    key = f"chorus:lgroups:{user_id}"
    found = cache.get_many([_GENERATION, key])
    generation = found.get(_GENERATION)
    if generation is not None and (entry := found.get(key)) and entry[0] == generation:
        return list(entry[1])
    if generation is None:
        cache.add(_GENERATION, uuid.uuid4().hex, None)
        generation = cache.get(_GENERATION)
    ids = _labeler_group_ids_read(user_id)
    cache.set(key, (generation, tuple(ids)), _GROUPS_SECONDS)
    return ids


def _labeler_group_ids_read(user_id: int) -> list[int]:
    """Sorted ids of the groups one labeler belongs to now, in ONE statement (the judgment submit
    path records them on each judgment, so it is SQL: the ORM's compile cost several times the
    statement): every group with its rules, whether the user is an explicit member, and the
    user's consenting profile's attributes."""
    members = LabelerGroup.members.through._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT g.id, EXISTS (SELECT 1 FROM {members} m
                WHERE m.labelergroup_id = g.id AND m.user_id = %s), r.attribute, r.value, p.attributes
            FROM {LabelerGroup._meta.db_table} g
            LEFT JOIN {GroupRule._meta.db_table} r ON r.group_id = g.id
            LEFT JOIN {LabelerProfile._meta.db_table} p
                ON p.user_id = %s AND p.consent_given_at IS NOT NULL""",
            [user_id, user_id],
        )
        rows = cursor.fetchall()
    member: set[int] = set()
    rules: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    values: dict[str, Any] = {}
    for group_id, is_member, attribute, value, profile_attributes in rows:
        if is_member:
            member.add(group_id)
        if attribute is not None:
            rules[group_id][attribute].add(value)
        values = _json_dict(profile_attributes)
    member |= {g for g, by in rules.items() if values and rules_match(values, by)}
    return sorted(member)


def _json_dict(value: Any) -> dict[str, Any]:
    """A JSON object read through a subquery: decoded by PostgreSQL's driver, a string on
    SQLite (the JSONField's decoder does not run on an annotation)."""
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


class JudgmentGroup:
    """The one labeler group a judgment counts in: the policy every per-group figure shares
    (training rows, the report's group figures, evaluation win rates, reward agreement).

    - Membership is the one recorded on the judgment when it was saved
      (`Judgment.labeler_group_ids`); a judgment with none recorded (saved outside the submit
      path) falls back to the labeler's membership now, read once (three queries).
    - A labeler in several groups counts in ONE: the group with the lowest
      `LabelerGroup.priority` (then by name) among `among` (group names; all groups if empty).
    Counting a judgment in every group its labeler belongs to would make overlapping groups
    share votes and inflate their agreement with each other.

    One query for the group table; then `resolve(labeler_id, recorded)` per judgment.
    """

    def __init__(self, among: Iterable[str] = ()) -> None:
        table = LabelerGroup.objects.values_list("pk", "priority", "name")
        self.by_id: dict[int, tuple[int, str]] = {pk: (prio, name) for pk, prio, name in table}
        id_of = {name: pk for pk, (_, name) in self.by_id.items()}
        self.pool = {id_of[n] for n in among if n in id_of} or set(self.by_id)
        self._now: dict[int, list[int]] | None = None

    def resolve(self, labeler_id: int | None, recorded: list[int] | None) -> str | None:
        """The group's name, or None (imported judgment, or no group of the pool)."""
        if labeler_id is None:
            return None
        if recorded is None:
            if self._now is None:
                self._now = labeler_group_id_map()
            recorded = self._now.get(labeler_id, [])
        candidates = [self.by_id[i] for i in recorded if i in self.pool]
        return min(candidates)[1] if candidates else None


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


def project_pseudonym(project: Project, user_id: int) -> str:
    """A labeler's pseudonym in one project: HMAC-SHA256 of their id keyed by the project's
    random salt. Stable within the project, different in every other one (exports of two
    projects cannot be joined on it), never derived from their name or profile."""
    key = project.pseudonym_salt.encode()
    return "L-" + hmac.new(key, str(user_id).encode(), hashlib.sha256).hexdigest()[:12]


def pseudonym_map(project: Project) -> dict[int, str]:
    """user id -> project pseudonym of everyone who judged in the project (the only labeler ids
    researchers see: reports, exports)."""
    ids = (
        Judgment.objects.filter(item__project=project, labeler__isnull=False)
        .values_list("labeler_id", flat=True)
        .distinct()
    )
    return {uid: project_pseudonym(project, uid) for uid in ids}


def min_group_size() -> int:
    """The minimum-group-size rule's threshold (annotation.privacy), read here only."""
    return int(settings.CHORUS_MIN_GROUP_SIZE)


def hidden_groups(sizes: Mapping[str, int]) -> set[str]:
    """Groups (name -> labelers) too small for researchers to see (annotation.privacy)."""
    return small_groups(sizes, min_group_size())


def group_sizes(membership: Mapping[int, list[str]]) -> dict[str, int]:
    """group name -> how many of the users in `membership` (user id -> group names) are in it."""
    return dict(Counter(name for names in membership.values() for name in names))


def groups_with_sizes(*, for_admin: bool) -> list[tuple[LabelerGroup, int]]:
    """Every group with its labelers (explicit members and rule matches) for admins (rules
    prefetched); for researchers only the groups at or above the minimum size."""
    sizes = group_sizes(labeler_group_map())
    groups = list(
        LabelerGroup.objects.prefetch_related("rules") if for_admin else LabelerGroup.objects.all()
    )
    rows = [(g, sizes.get(g.name, 0)) for g in groups]
    if for_admin:
        return rows
    hidden = hidden_groups({g.name: n for g, n in rows})
    return [(g, n) for g, n in rows if g.name not in hidden]


class ExternalLabelerRow(NamedTuple):
    profile: LabelerProfile
    pseudonym: str  # the project pseudonym, as in exports
    groups: list[str]
    judgments: int


def external_labelers_for_admin(project: Project) -> list[ExternalLabelerRow]:
    """An imported dataset's annotators in a project (external labelers), with the attributes
    the dataset gave them, their groups and judgment counts: for admins only (three queries
    for groups, one for profiles with counts)."""
    from django.db.models import Count

    profiles = list(
        LabelerProfile.objects.filter(external_project=project)
        .annotate(judgments=Count("user__judgments"))
        .order_by("external_id")
    )
    membership = labeler_group_map([p.user_id for p in profiles])
    return [
        ExternalLabelerRow(
            p,
            project_pseudonym(project, p.user_id),
            membership.get(p.user_id, []),
            p.judgments,  # type: ignore[attr-defined]
        )
        for p in profiles
    ]
