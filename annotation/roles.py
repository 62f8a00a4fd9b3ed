"""The three roles, as Django groups with permissions.

- labeler: judges items and writes demonstrations; sees only their own work.
- researcher: manages projects, data (import/export) and training; sees no demographics.
- admin: everything a researcher can, plus labelers, their attributes and groups.
A superuser counts as an admin.

`RoleBackend` reads a user's roles in the same query as the user (once per request), so role
checks cost no query of their own; with a shared cache (settings.CHORUS_USER_CACHE) the user and
roles are kept there and the request costs no query at all, the entry being dropped whenever the
user, their groups or their active flag change (`user_cache_forget`).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction

LABELER, RESEARCHER, ADMIN = "labeler", "researcher", "admin"
ROLES = (LABELER, RESEARCHER, ADMIN)

# Model permissions per role: (app_label, model, actions).
_RESEARCH_MODELS = (
    "project", "guidelineversion", "criterion", "prompt", "turn", "completion", "item",
    "itemcompletion", "judgment", "importjob", "exportjob", "groupquota",
)  # fmt: skip
_ADMIN_MODELS = ("labelerprofile", "labelergroup", "grouprule")
ROLE_PERMISSIONS: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    LABELER: [],
    RESEARCHER: [("annotation", m, ("add", "change", "delete", "view")) for m in _RESEARCH_MODELS]
    + [("annotation", m, ("view",)) for m in ("labelergroup",)],
    ADMIN: [
        ("annotation", m, ("add", "change", "delete", "view"))
        for m in _RESEARCH_MODELS + _ADMIN_MODELS
    ],
}


def roles_sync(**kwargs: Any) -> None:
    """Create the role groups with their permissions (idempotent; runs after every migrate)."""
    from django.contrib.auth.models import Group, Permission

    for role, entries in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = {
            (app, f"{action}_{model}") for app, model, actions in entries for action in actions
        }
        perms = [
            p
            for p in Permission.objects.filter(
                content_type__app_label__in={a for a, _ in wanted}
            ).select_related("content_type")
            if (p.content_type.app_label, p.codename) in wanted
        ]
        group.permissions.set(perms)


# A safety net only: every change of a user, their groups or their active flag drops the entry.
USER_CACHE_SECONDS = 300


def _user_key(pk: Any) -> str:
    return f"chorus:user:{pk}"


def user_cache_forget(pk: Any) -> None:
    """Drop a user's cached row and roles now and again when the transaction commits (so that a
    request reading the old row before the commit cannot keep it in the cache)."""
    if not getattr(settings, "CHORUS_USER_CACHE", False):
        return
    cache.delete(_user_key(pk))
    transaction.on_commit(lambda: cache.delete(_user_key(pk)))


def user_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    """post_save / post_delete of a user."""
    user_cache_forget(instance.pk)


def user_groups_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    """m2m_changed of user.groups, from either side (user.groups.add, group.user_set.add)."""
    if not action.startswith("post_"):
        return
    if not reverse:
        user_cache_forget(instance.pk)
    elif pk_set is not None:
        for pk in pk_set:
            user_cache_forget(pk)
    else:  # group.user_set.clear(): who was in it is no longer known
        group_removed(sender)


def group_removed(sender: Any, **kwargs: Any) -> None:
    """A group deleted or emptied (rare): its members are unknown here, so drop every entry."""
    if getattr(settings, "CHORUS_USER_CACHE", False):
        cache.clear()


class RoleBackend(ModelBackend):
    """Django's model backend, whose per-request user lookup also answers which role groups the
    user is in: one statement instead of two, written in SQL (it runs on every request); with
    settings.CHORUS_USER_CACHE, none while the user is in the shared cache."""

    def get_user(self, user_id: Any) -> Any:
        users = get_user_model()
        try:
            pk = users._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        use_cache = getattr(settings, "CHORUS_USER_CACHE", False)
        if use_cache and (hit := cache.get(_user_key(pk))) is not None:
            user, roles = hit
            user._chorus_roles = set(roles)
            return user if self.user_can_authenticate(user) else None
        user = self._user_row(users, pk)
        if user is not None and use_cache:
            cache.add(_user_key(pk), (user, frozenset(user._chorus_roles)), USER_CACHE_SECONDS)
        return user

    def _user_row(self, users: Any, pk: Any) -> Any:
        # One row per group the user is in (one row with no group name when in none).
        rows = list(
            users._default_manager.raw(
                f"""SELECT u.*, g.name AS chorus_group FROM {users._meta.db_table} u
                LEFT JOIN {users.groups.through._meta.db_table} m ON m.user_id = u.id
                LEFT JOIN auth_group g ON g.id = m.group_id WHERE u.id = %s""",
                [pk],
            )
        )
        if not rows or not self.user_can_authenticate(rows[0]):
            return None
        user = rows[0]
        user._chorus_roles = {row.chorus_group for row in rows} & set(ROLES)
        return user


def _in_group(user: Any, name: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    cache = getattr(user, "_chorus_roles", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))
        user._chorus_roles = cache
    return name in cache


def is_admin(user: Any) -> bool:
    return bool(getattr(user, "is_superuser", False)) or _in_group(user, ADMIN)


def is_researcher(user: Any) -> bool:
    """Researchers and admins."""
    return is_admin(user) or _in_group(user, RESEARCHER)


def is_labeler(user: Any) -> bool:
    return _in_group(user, LABELER)


def role_of(user: Any) -> str | None:
    """The highest role a user holds."""
    if is_admin(user):
        return ADMIN
    if is_researcher(user):
        return RESEARCHER
    if is_labeler(user):
        return LABELER
    return None
