"""Group membership as SQL: the groups one user belongs to, as a filter on LabelerGroup, so
that the project access check (annotation.selectors.projects) is one query with no Python
step. It states the rule of `annotation.selectors.labelers._membership` (explicit members, or a
consenting profile that matches every attribute named in the group's rules, one of the values
given for each) in SQL; tests/annotation/selectors/test_access.py checks both agree.
"""

from __future__ import annotations

from typing import Any

from django.db.models import CharField, Exists, Func, OuterRef, Q

from annotation.models import GroupRule, LabelerGroup, LabelerProfile


class AttributeValue(Func):
    """`attributes ->> key` where the key is another column (a rule's attribute). Attribute
    names are validated as [a-z][a-z0-9_]*, so the SQLite path quoting is safe."""

    arity = 2
    output_field = CharField()

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        json_sql, json_params = compiler.compile(self.source_expressions[0])
        key_sql, key_params = compiler.compile(self.source_expressions[1])
        params = (*json_params, *key_params)
        if connection.vendor == "postgresql":
            return f"({json_sql} ->> {key_sql})", params
        return f"JSON_EXTRACT({json_sql}, '$.\"' || {key_sql} || '\"')", params


def member_of_q(user_id: int) -> Q:
    """A filter on LabelerGroup: the groups `user_id` belongs to now (explicit or by rules)."""
    explicit = LabelerGroup.members.through.objects.filter(
        labelergroup_id=OuterRef("pk"), user_id=user_id
    )
    # A rule is met when the user's consenting profile has the rule's value for its attribute.
    profile_has = (
        LabelerProfile.objects.filter(user_id=user_id, consent_given_at__isnull=False)
        .annotate(value=AttributeValue("attributes", OuterRef("attribute")))
        .filter(value=OuterRef("value"))
    )
    met = GroupRule.objects.filter(
        group_id=OuterRef("group_id"), attribute=OuterRef("attribute")
    ).filter(Exists(profile_has))
    unmet_attribute = GroupRule.objects.filter(group_id=OuterRef("pk")).exclude(Exists(met))
    has_rules = GroupRule.objects.filter(group_id=OuterRef("pk"))
    return Q(Exists(explicit)) | (Q(Exists(has_rules)) & ~Q(Exists(unmet_attribute)))
