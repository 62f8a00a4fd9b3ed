"""Reads for onboarding: a labeler's next onboarding step, their own information, recruitment
links and arrivals, and the admins' view of a labeler's consent and audit trail.

Labelers only ever read their own rows here; researchers nothing (404); platform ids only
admins (`labeler_audit_for_admin`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Count, Max
from django.http import Http404
from django.shortcuts import get_object_or_404

from annotation.models import (
    AttributeDefinition,
    AuditAction,
    ConsentVersion,
    LabelerAuditEvent,
    LabelerProfile,
    PlatformIdentity,
    Project,
    RecruitmentArrival,
    RecruitmentLink,
)
from annotation.roles import is_admin, is_labeler

CONSENT, QUESTIONNAIRE = "consent", "questionnaire"


def consent_current() -> ConsentVersion | None:
    return ConsentVersion.objects.order_by("-version").first()


CONSENT_CACHE_KEY = "chorus:consent:current-version"
CONSENT_CACHE_SECONDS = 10  # with a per-process cache, a new version reaches every process by then


def consent_current_version() -> int:
    """The current consent version's number (0: no consent text, onboarding off), read from the
    cache: every labeler page asks it, and it changes only when an admin saves a new text
    (consent_version_create clears it; other processes' caches expire within seconds)."""
    version = cache.get(CONSENT_CACHE_KEY)
    if version is None:
        version = ConsentVersion.objects.aggregate(v=Max("version"))["v"] or 0
        cache.set(CONSENT_CACHE_KEY, version, timeout=CONSENT_CACHE_SECONDS)
    return int(version)


def onboarding_step(user: Any) -> str | None:
    """The onboarding step a labeler still has to take before working: CONSENT (they have not
    agreed to the current consent version), QUESTIONNAIRE (consented but not answered since),
    or None. With no consent text at all onboarding is off and nobody is stopped."""
    if not is_labeler(user):
        return None
    current = consent_current_version()
    if not current:
        return None
    profile = LabelerProfile.objects.filter(user=user).first()
    if profile is None or profile.consent_version != current:
        return CONSENT
    if (
        profile.consent_given_at is not None
        and profile.questionnaire_answered_at is None
        and AttributeDefinition.objects.filter(asked=True).exists()
    ):
        return QUESTIONNAIRE
    return None


def require_labeler(user: Any) -> None:
    if not is_labeler(user):
        raise Http404


def require_admin(user: Any) -> None:
    if not is_admin(user):
        raise Http404


@dataclass(frozen=True)
class Answer:
    definition: AttributeDefinition
    value: str | None  # None: not stated


def labeler_answers(user: Any) -> list[Answer]:
    """The asked questions with the labeler's own current answers."""
    profile = LabelerProfile.objects.filter(user=user).first()
    values = profile.attributes if profile else {}
    return [Answer(d, values.get(d.name)) for d in AttributeDefinition.objects.filter(asked=True)]


@dataclass(frozen=True)
class LabelerInformation:
    profile: LabelerProfile | None
    attributes: list[tuple[str, str, str]]  # (name, question or name, value)
    consent_history: list[LabelerAuditEvent]


def labeler_information(user: Any) -> LabelerInformation:
    """What Chorus stores about the labeler themself: attributes and consent history."""
    require_labeler(user)
    profile = LabelerProfile.objects.filter(user=user).first()
    questions = dict(AttributeDefinition.objects.values_list("name", "question"))
    attributes = sorted(
        (name, questions.get(name, name), value)
        for name, value in (profile.attributes if profile else {}).items()
    )
    history = list(
        LabelerAuditEvent.objects.filter(
            labeler=user,
            action__in=[AuditAction.CONSENT_GIVEN, AuditAction.CONSENT_WITHDRAWN],
        )
    )
    return LabelerInformation(profile, attributes, history)


def link_get_by_token(token: str) -> RecruitmentLink:
    """Anyone holding the token may open the link's landing page (404 otherwise)."""
    return get_object_or_404(RecruitmentLink.objects.prefetch_related("projects"), token=token)


def arrival_get_for_labeler(user: Any, arrival_id: int) -> RecruitmentArrival:
    require_labeler(user)
    return get_object_or_404(
        RecruitmentArrival.objects.select_related("link"), pk=arrival_id, user=user
    )


def arrival_for_project(user: Any, project: Project) -> RecruitmentArrival | None:
    """The labeler's arrival through a link that covers `project` (the newest), if any."""
    return (
        RecruitmentArrival.objects.select_related("link")
        .filter(user=user, link__projects=project)
        .first()
    )


def links_for_admin(user: Any) -> list[RecruitmentLink]:
    require_admin(user)
    return list(
        RecruitmentLink.objects.prefetch_related("projects").annotate(
            participants=Count("arrivals", distinct=True)
        )
    )


def link_get_for_admin(user: Any, link_id: int) -> RecruitmentLink:
    require_admin(user)
    return get_object_or_404(RecruitmentLink, pk=link_id)


def attribute_definition_get_for_admin(user: Any, definition_id: int) -> AttributeDefinition:
    require_admin(user)
    return get_object_or_404(AttributeDefinition, pk=definition_id)


@dataclass(frozen=True)
class LabelerAudit:
    labeler: Any
    profile: LabelerProfile | None
    identities: list[PlatformIdentity]
    arrivals: list[RecruitmentArrival]
    events: list[LabelerAuditEvent]


def labeler_audit_for_admin(user: Any, labeler_id: int) -> LabelerAudit:
    """One labeler's consent state, platform ids, arrivals and audit trail: admins only."""
    require_admin(user)
    labeler = get_object_or_404(get_user_model(), pk=labeler_id, groups__name="labeler")
    return LabelerAudit(
        labeler=labeler,
        profile=LabelerProfile.objects.filter(user=labeler).first(),
        identities=list(PlatformIdentity.objects.filter(user=labeler)),
        arrivals=list(RecruitmentArrival.objects.filter(user=labeler).select_related("link")),
        events=list(
            LabelerAuditEvent.objects.filter(labeler=labeler).select_related("actor", "link")
        ),
    )
