"""What admins see of labelers: the filtered, naturally sorted list with activity (judgments,
agreement, last seen), one labeler's page, a group's size before it is saved, and a project's
access setting. Researchers get none of it but the access setting, without rules or labelers'
attributes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import Count, Max, Q
from django.http import Http404

from annotation.models import (
    AttributeDefinition,
    Judgment,
    JudgmentSource,
    LabelerGroup,
    LabelerProfile,
    PairwiseChoice,
    Project,
)
from annotation.reports.quality import loo_agreement
from annotation.roles import LABELER
from annotation.selectors.labelers import (
    groups_with_sizes,
    labeler_group_map,
    min_group_size,
    rules_match,
)
from annotation.selectors.projects import labeler_access_q

STATUSES = ("active", "deactivated", "all")
CONSENT = ("", "given", "missing")
_DIGITS = re.compile(r"(\d+)")
_VOTES = {c: n for n, c in enumerate(PairwiseChoice.values)}  # pairwise vote -> category


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key that orders digit runs by value: labeler2 before labeler10."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part.casefold())
        for part in _DIGITS.split(text)
        if part
    )


@dataclass(frozen=True)
class LabelerFilters:
    group: int | None = None  # a LabelerGroup id
    attribute: str = ""  # with `value`: attributes[attribute] == value
    value: str = ""
    status: str = "active"  # one of STATUSES
    consent: str = ""  # one of CONSENT ("" = either)
    search: str = ""  # part of the username or pseudonym


@dataclass
class Activity:
    judgments: int = 0
    last_judged_at: datetime | None = None
    comparable: int = 0  # pairwise judgments on items where the others have a unique majority
    agreement: float | None = None  # share of those that agree with it


@dataclass
class LabelerRow:
    user: Any
    profile: LabelerProfile | None
    groups: list[str]
    activity: Activity = field(default_factory=Activity)

    @property
    def last_seen(self) -> datetime | None:
        seen = [t for t in (self.user.last_login, self.activity.last_judged_at) if t]
        return max(seen) if seen else None

    @property
    def deactivated(self) -> bool:
        return not self.user.is_active


def labeler_rows(filters: LabelerFilters) -> list[LabelerRow]:
    """Every labeler matching the filters, naturally sorted by username, with profile and
    groups (four queries); add activity for the shown ones with `with_activity`."""
    users = get_user_model().objects.filter(groups__name=LABELER).select_related("labeler_profile")
    if filters.status == "active":
        users = users.filter(is_active=True)
    elif filters.status == "deactivated":
        users = users.filter(is_active=False)
    if filters.consent == "given":
        users = users.filter(labeler_profile__consent_given_at__isnull=False)
    elif filters.consent == "missing":
        users = users.filter(
            Q(labeler_profile__isnull=True) | Q(labeler_profile__consent_given_at__isnull=True)
        )
    if filters.search:
        users = users.filter(
            Q(username__icontains=filters.search)
            | Q(labeler_profile__pseudonym__icontains=filters.search)
        )
    users_list = list(users)
    membership = labeler_group_map([u.pk for u in users_list])
    group_name = (
        LabelerGroup.objects.filter(pk=filters.group).values_list("name", flat=True).first()
        if filters.group
        else None
    )
    rows = [
        LabelerRow(u, getattr(u, "labeler_profile", None), membership.get(u.pk, []))
        for u in users_list
    ]
    rows = [r for r in rows if _keep(r, filters, group_name)]
    return sorted(rows, key=lambda r: natural_key(r.user.username))


def _keep(row: LabelerRow, filters: LabelerFilters, group_name: str | None) -> bool:
    if filters.group and group_name not in row.groups:
        return False
    if filters.attribute:
        attributes = row.profile.attributes if row.profile else {}
        if filters.value:
            return bool(attributes.get(filters.attribute) == filters.value)
        return filters.attribute in attributes
    return True


def with_activity(rows: list[LabelerRow]) -> list[LabelerRow]:
    """Fill each row's activity: two queries for any number of rows."""
    activity = labeler_activity([r.user.pk for r in rows])
    for row in rows:
        row.activity = activity.get(row.user.pk, Activity())
    return rows


def labeler_activity(user_ids: list[int]) -> dict[int, Activity]:
    """Per labeler: judgments, last judgment, and agreement on pairwise items: the share of
    their votes (A, B, tie, both bad) equal to the unique plurality of the *other* labelers'
    votes on the same item (the report's leave-one-out consensus, annotation.reports.quality),
    across all projects. Two queries: counts, then every pairwise vote on items they judged."""
    result = {uid: Activity() for uid in user_ids}
    counts = (
        Judgment.objects.filter(labeler_id__in=user_ids)
        .values("labeler_id")
        .annotate(n=Count("pk"), last=Max("created_at"))
        .order_by()
    )
    for row in counts:
        result[row["labeler_id"]].judgments = row["n"]
        result[row["labeler_id"]].last_judged_at = row["last"]
    judged = Judgment.objects.filter(labeler_id__in=user_ids).values("item_id")
    votes = np.array(
        list(
            Judgment.objects.filter(
                item_id__in=judged, source=JudgmentSource.HUMAN, pairwise_choice__in=_VOTES
            ).values_list("item_id", "labeler_id", "pairwise_choice")
        ),
        dtype=object,
    ).reshape(-1, 3)
    if len(votes):
        _, item = np.unique(votes[:, 0].astype(np.int64), return_inverse=True)
        vote = np.array([_VOTES[c] for c in votes[:, 2]], dtype=np.int64)
        comparable, agrees = loo_agreement(item, vote, int(item.max()) + 1, len(_VOTES))
        who = votes[:, 1].astype(np.int64)
        for uid in user_ids:
            mine = (who == uid) & comparable
            n = int(mine.sum())
            if n:
                result[uid].comparable = n
                result[uid].agreement = float(agrees[mine].mean())
    return result


@dataclass(frozen=True)
class LabelerDetail:
    row: LabelerRow
    projects: list[tuple[Project, int, bool]]  # project, my judgments there, may label now
    deactivated_by: str


def labeler_detail(user_id: int) -> LabelerDetail:
    """One labeler for the admin's page (404 for anyone who is not a labeler)."""
    user = (
        get_user_model()
        .objects.filter(pk=user_id, groups__name=LABELER)
        .select_related("labeler_profile__deactivated_by")
        .first()
    )
    if user is None:
        raise Http404("No such labeler.")
    profile = getattr(user, "labeler_profile", None)
    row = LabelerRow(user, profile, labeler_group_map([user.pk]).get(user.pk, []))
    with_activity([row])
    judged = dict(
        Judgment.objects.filter(labeler=user)
        .values_list("item__project_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    allowed = set(Project.objects.filter(labeler_access_q(user.pk)).values_list("pk", flat=True))
    projects = [
        (p, judged.get(p.pk, 0), p.pk in allowed)
        for p in Project.objects.filter(Q(pk__in=judged) | Q(pk__in=allowed))
    ]
    by = profile.deactivated_by.username if profile and profile.deactivated_by else ""
    return LabelerDetail(row=row, projects=projects, deactivated_by=by)


@dataclass(frozen=True)
class GroupPreview:
    size: int  # labelers in the group now (rule matches and explicit members)
    minimum: int  # CHORUS_MIN_GROUP_SIZE
    by_rules: int  # of which match the rules

    @property
    def hidden_from_researchers(self) -> bool:
        return self.size < self.minimum


def group_preview(*, rules: dict[str, list[str]], member_ids: list[int]) -> GroupPreview:
    """How many labelers a group with these rules and explicit members would have now (the
    same rule as `selectors.labelers._membership`): two queries."""
    by_attribute = {a: set(v) for a, v in rules.items() if v}
    matched: set[int] = set()
    if by_attribute:
        profiles = LabelerProfile.objects.filter(consent_given_at__isnull=False)
        matched = {
            uid
            for uid, values in profiles.values_list("user_id", "attributes")
            if rules_match(values, by_attribute)
        }
    explicit = set(
        get_user_model()
        .objects.filter(pk__in=member_ids, groups__name=LABELER)
        .values_list("pk", flat=True)
    )
    return GroupPreview(len(matched | explicit), min_group_size(), len(matched))


def group_get_for_admin(group_id: int) -> LabelerGroup:
    try:
        return LabelerGroup.objects.prefetch_related("rules").get(pk=group_id)
    except LabelerGroup.DoesNotExist:
        raise Http404("No such group.") from None


def group_explicit_members(group: LabelerGroup) -> list[Any]:
    members = list(group.members.select_related("labeler_profile"))
    return sorted(members, key=lambda u: natural_key(u.username))


def attribute_choices() -> list[AttributeDefinition]:
    return list(AttributeDefinition.objects.all())


@dataclass(frozen=True)
class ProjectAccess:
    open_to_all: bool
    groups: list[tuple[LabelerGroup, int, bool]]  # every group they may pick, size, chosen
    hidden_chosen: int  # chosen groups below the minimum size (researchers only see a count)
    labelers: list[Any]  # chosen labelers (admins); [] for researchers
    labeler_count: int
    # quota groups (GroupQuota) not among the groups with access while the project is
    # restricted: their quota may never fill, and items would wait (assignment.md, quotas)
    quotas_without_access: list[str] = field(default_factory=list)


def project_access(project: Project, *, for_admin: bool) -> ProjectAccess:
    """The project's access setting as this role may see it (never rules or attributes)."""
    chosen = set(project.labeler_groups.values_list("pk", flat=True))
    groups = groups_with_sizes(for_admin=for_admin)
    visible = {g.pk for g, _ in groups}
    labelers = list(project.labelers.order_by("username")) if for_admin else []
    quota_groups = project.quotas.exclude(group_id__in=chosen).filter(group_id__in=visible)
    stalled = (
        []
        if project.open_to_all_labelers
        else sorted(quota_groups.values_list("group__name", flat=True))
    )
    return ProjectAccess(
        open_to_all=project.open_to_all_labelers,
        groups=[(g, n, g.pk in chosen) for g, n in groups],
        hidden_chosen=len(chosen - visible),
        labelers=sorted(labelers, key=lambda u: natural_key(u.username)),
        labeler_count=project.labelers.count(),
        quotas_without_access=stalled,
    )


def labeler_ids_by_name(names: list[str]) -> list[int]:
    """Ids of the labelers with these usernames or (admin) pseudonyms; unknown names are left
    out (callers compare counts to name them)."""
    wanted = [n.strip() for n in names if n.strip()]
    return list(
        get_user_model()
        .objects.filter(groups__name=LABELER)
        .filter(Q(username__in=wanted) | Q(labeler_profile__pseudonym__in=wanted))
        .values_list("pk", flat=True)
        .distinct()
    )
