"""The attribute questionnaire: admins define the attributes (AttributeDefinition), labelers
answer them (`labeler_attributes_answer`). Every answer is optional: "prefer not to say" leaves
the attribute absent from the profile."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotation.models import (
    ATTRIBUTE_VALUE_CHARS,
    AttributeDefinition,
    AuditAction,
    LabelerProfile,
)
from annotation.services.access import reservations_release_after_change
from annotation.services.audit import labeler_audit_event_record

DEFINITION_FIELDS = ("name", "question", "purpose", "options", "asked", "order")

# The questionnaire's starting set (migration 0006 made the same from the old fixed columns).
DEFAULT_PURPOSE = (
    "Used only to compare how groups of labelers judge the same items (for example whether "
    "younger and older labelers prefer different answers). Researchers see group figures "
    "only, never your answers, and never groups smaller than the minimum size."
)
DEFAULT_DEFINITIONS = [
    ("age_range", "How old are you?", ["18-29", "30-44", "45-59", "60+"], 10),
    ("gender", "What is your gender?", [], 20),
    ("region", "Where do you live (country or region)?", [], 30),
    ("language", "What is your first language?", [], 40),
    ("education", "What is the highest level of education you have completed?",
     ["secondary", "bachelor", "master", "doctorate", "other"], 50),
]  # fmt: skip


def attribute_definitions_seed(**kwargs: Any) -> None:
    """The starting questionnaire when there is none at all (after every migrate, like the role
    groups: a database emptied by `flush` gets it back). An admin who edits or deletes some of
    them keeps their choice: nothing is added while any definition exists."""
    if AttributeDefinition.objects.exists():
        return
    AttributeDefinition.objects.bulk_create(
        AttributeDefinition(
            name=name, question=question, options=options, order=order, purpose=DEFAULT_PURPOSE
        )
        for name, question, options, order in DEFAULT_DEFINITIONS
    )


def attribute_definition_save(
    *, definition: AttributeDefinition | None = None, **fields: Any
) -> AttributeDefinition:
    """Create a definition, or change `definition`; raises ValidationError naming the field.
    A name is fixed once created (profiles and group rules refer to it)."""
    if unknown := set(fields) - set(DEFINITION_FIELDS):
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    if definition is None:
        definition = AttributeDefinition()
    elif "name" in fields and fields["name"] != definition.name:
        raise ValidationError({"name": "The name cannot change (profiles and rules use it)."})
    for field, value in fields.items():
        setattr(definition, field, value)
    definition.full_clean()
    definition.save()
    return definition


def attribute_definition_delete(*, definition: AttributeDefinition) -> None:
    """Stop asking; labelers' stored answers stay until they change or withdraw them."""
    definition.delete()


def _answer(definition: AttributeDefinition, value: str | None) -> str | None:
    value = (value or "").strip()
    if not value:
        return None  # prefer not to say
    if definition.options and value not in definition.options:
        raise ValidationError({definition.name: f"{value[:40]!r} is not one of the answers."})
    if len(value) > ATTRIBUTE_VALUE_CHARS:
        raise ValidationError({definition.name: f"At most {ATTRIBUTE_VALUE_CHARS} characters."})
    return value


@transaction.atomic
def labeler_attributes_answer(
    *, user: Any, answers: Mapping[str, str | None], actor: Any = None
) -> LabelerProfile:
    """Store the labeler's answers to the asked questions ({name: value or None for "prefer
    not to say"}); questions not in `answers` count as "prefer not to say". Attributes that
    are not asked (e.g. from an imported dataset) are left alone. Needs recorded consent;
    records which names changed (not the values). Raises ValidationError naming the field."""
    asked = {d.name: d for d in AttributeDefinition.objects.filter(asked=True)}
    if unknown := sorted(set(answers) - set(asked)):
        raise ValidationError({unknown[0]: "No such question."})
    profile = LabelerProfile.objects.select_for_update().filter(user=user).first()
    if profile is None or profile.consent_given_at is None:
        raise ValidationError({"consent": "Give your consent before answering."})
    before = dict(profile.attributes)
    after = {k: v for k, v in before.items() if k not in asked}
    for name, definition in asked.items():
        if (value := _answer(definition, answers.get(name))) is not None:
            after[name] = value
    profile.attributes = after
    profile.questionnaire_answered_at = timezone.now()
    profile.full_clean()
    profile.save()
    changed = {n for n in before.keys() | after.keys() if before.get(n) != after.get(n)}
    if changed:
        reservations_release_after_change(labeler=user)
        labeler_audit_event_record(
            labeler=user, actor=actor, action=AuditAction.ATTRIBUTES_CHANGED, names=changed
        )
    return profile
