"""How labelers arrive and what they agreed to: recruitment links (open sign-up or a
crowd-platform study), their arrivals, platform identities, versioned consent texts, and the
admins' audit trail of consent and attribute changes.

Platform ids (Prolific PID, MTurk worker id ...) live only in PlatformIdentity and
RecruitmentArrival; only admins ever see them.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, RegexValidator
from django.db import models

from annotation.models.projects import Project

PARAMETER_NAME = RegexValidator(
    r"^[A-Za-z][A-Za-z0-9_]{0,39}$",
    "Use 1–40 letters, digits or underscores, starting with a letter.",
)
PLATFORM_ID_CHARS = 100


def new_link_token() -> str:
    return secrets.token_urlsafe(18)


class LinkKind(models.TextChoices):
    SIGNUP = "signup", "Open sign-up (invite token; the labeler picks a username and password)"
    PROLIFIC = "prolific", "Prolific study"
    MTURK = "mturk", "Amazon Mechanical Turk HIT"
    STUDY = "study", "Other crowd platform (name the URL parameters)"


# The URL parameters each platform appends: (participant, study, session); the defaults of a
# link's parameter names. An "other platform" link names its own (at least the participant's).
PLATFORM_PARAMETERS = {
    LinkKind.PROLIFIC: ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID"),
    LinkKind.MTURK: ("workerId", "hitId", "assignmentId"),
}


def https_url(value: str) -> None:
    if value and not value.startswith("https://"):
        raise ValidationError("Only https:// addresses.")


class RecruitmentLink(models.Model):
    """An admin's link that brings labelers into one or more projects: each arrival is added to
    the projects' `labelers` (that is the access "those who came through its recruitment link")."""

    name = models.CharField(max_length=200, help_text="The admin's name for it.")
    kind = models.CharField(max_length=10, choices=LinkKind.choices)
    token = models.CharField(max_length=40, unique=True, default=new_link_token, editable=False)
    projects = models.ManyToManyField(Project, related_name="recruitment_links")
    participant_parameter = models.CharField(
        max_length=40,
        blank=True,
        validators=[PARAMETER_NAME],
        help_text="URL parameter with the platform's participant id (study links only).",
    )
    study_parameter = models.CharField(max_length=40, blank=True, validators=[PARAMETER_NAME])
    session_parameter = models.CharField(max_length=40, blank=True, validators=[PARAMETER_NAME])
    completion_code = models.CharField(
        max_length=100, blank=True, help_text="Shown to the labeler when they finish."
    )
    completion_url = models.URLField(
        max_length=500,
        blank=True,
        validators=[https_url],
        help_text="Where a labeler who finishes is sent (https only).",
    )
    quota_items = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Judgments after which a labeler has finished; empty: when nothing is left.",
    )
    max_participants = models.PositiveIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="signup") | ~models.Q(participant_parameter=""),
                name="study_link_names_participant_parameter",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_study(self) -> bool:
        return self.kind != LinkKind.SIGNUP

    def clean(self) -> None:
        if self.is_study and not self.participant_parameter:
            raise ValidationError({"participant_parameter": "A study link needs it."})
        names = [self.participant_parameter, self.study_parameter, self.session_parameter]
        if len({n for n in names if n}) != len([n for n in names if n]):
            raise ValidationError({"study_parameter": "The parameter names must differ."})


class PlatformIdentity(models.Model):
    """A crowd platform's participant id, mapped to the one account it always resumes."""

    platform = models.CharField(max_length=10, choices=LinkKind.choices)
    participant_id = models.CharField(max_length=PLATFORM_ID_CHARS)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="platform_identities"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "participant_id"], name="platform_identity_unique"
            )
        ]


class RecruitmentArrival(models.Model):
    """One labeler's arrival through a link (resuming the same link updates it)."""

    link = models.ForeignKey(RecruitmentLink, on_delete=models.CASCADE, related_name="arrivals")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recruitment_arrivals"
    )
    study_id = models.CharField(max_length=PLATFORM_ID_CHARS, blank=True)
    session_id = models.CharField(max_length=PLATFORM_ID_CHARS, blank=True)
    arrived_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-arrived_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["link", "user"], name="arrival_unique"),
        ]


class ConsentVersion(models.Model):
    """The consent text labelers agree to; editing it creates the next version, and labelers are
    asked again on their next visit. No version at all: no consent step (onboarding is off)."""

    version = models.PositiveIntegerField(unique=True)
    text = models.TextField(validators=[MaxLengthValidator(20_000)], help_text="Markdown.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"consent v{self.version}"


class AuditAction(models.TextChoices):
    CONSENT_GIVEN = "consent_given", "Consent given"  # agreed to `consent_version`
    # withdrew from `consent_version`: attributes (`names`) cleared, out of rule groups
    CONSENT_WITHDRAWN = "consent_withdrawn", "Consent withdrawn"
    # `names` lists the attributes whose answer changed (never the values)
    ATTRIBUTES_CHANGED = "attributes_changed", "Attributes changed"
    LINK_ARRIVAL = "link_arrival", "Arrived through a recruitment link"  # or came back
    DEACTIVATED = "deactivated", "Deactivated"  # by `actor`: login refused, queue released
    REACTIVATED = "reactivated", "Reactivated"  # by `actor`


class LabelerAuditEvent(models.Model):
    """What happened to a labeler's consent and attributes, for admins only.

    Attribute changes record the *names* that changed, never the values: a withdrawal must
    leave nothing of the answers behind, and the trail's purpose (who agreed to what, when,
    and what was touched) needs no values."""

    labeler = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="audit_events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who made the change (the labeler, or an admin).",
    )
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    consent_version = models.PositiveIntegerField(null=True, blank=True)
    names = models.JSONField(default=list, blank=True, help_text="Attribute names changed.")
    link = models.ForeignKey(
        RecruitmentLink, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-pk"]
