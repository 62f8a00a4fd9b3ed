"""Labelers' consented attributes (LabelerProfile) and the groups built from them by rule or
explicit membership, with per-group quotas."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from annotation.models.projects import Project


class AgeRange(models.TextChoices):
    A18_29 = "18-29", "18–29"
    A30_44 = "30-44", "30–44"
    A45_59 = "45-59", "45–59"
    A60 = "60+", "60 or older"


class Education(models.TextChoices):
    SECONDARY = "secondary", "Secondary school"  # high school or equivalent
    BACHELOR = "bachelor", "Bachelor's degree"  # undergraduate
    MASTER = "master", "Master's degree"  # graduate
    DOCTORATE = "doctorate", "Doctorate"  # PhD or equivalent
    OTHER = "other", "Other"  # anything else


def new_pseudonym() -> str:
    return "L-" + secrets.token_hex(6)


# The attributes that groups can be defined by; each is optional on a profile.
LABELER_ATTRIBUTES = ("age_range", "gender", "region", "language", "education")


class LabelerProfile(models.Model):
    """A labeler's self-reported attributes; only admins ever see them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="labeler_profile"
    )
    pseudonym = models.CharField(
        max_length=20,
        unique=True,
        default=new_pseudonym,
        help_text="The admin's short handle for the labeler. Researchers never see it: exports "
        "and reports use per-project pseudonyms (Project.pseudonym_salt).",
    )
    age_range = models.CharField(max_length=10, choices=AgeRange.choices, blank=True)
    gender = models.CharField(max_length=50, blank=True)
    region = models.CharField(max_length=100, blank=True)
    language = models.CharField(max_length=50, blank=True, help_text="First language.")
    education = models.CharField(max_length=20, choices=Education.choices, blank=True)
    consent_given_at = models.DateTimeField(
        null=True, blank=True, help_text="When the labeler agreed to their attributes being used."
    )
    screening_passed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.pseudonym

    def clean(self) -> None:
        has_attributes = any(getattr(self, name) for name in LABELER_ATTRIBUTES)
        if has_attributes and self.consent_given_at is None:
            raise ValidationError(
                "Attributes may only be stored with the labeler's recorded consent."
            )


class LabelerGroup(models.Model):
    """A group of labelers: by attribute rules (all must match), explicit members, or both."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    priority = models.PositiveSmallIntegerField(
        default=100,
        help_text="A labeler in several groups counts, in training runs, in only one of them: "
        "the one with the lowest priority number (then by name) among the run's groups.",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="labeler_groups",
        help_text="Explicit members.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class GroupRule(models.Model):
    """`attribute = value`. A labeler matches a group's rules when every attribute named in them
    matches one of the values given for it (AND across attributes, OR within one)."""

    group = models.ForeignKey(LabelerGroup, on_delete=models.CASCADE, related_name="rules")
    attribute = models.CharField(
        max_length=20, choices=[(a, a.replace("_", " ")) for a in LABELER_ATTRIBUTES]
    )
    value = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group", "attribute", "value"], name="group_rule_unique"
            )
        ]


class GroupQuota(models.Model):
    """At least `min_per_item` judgments per item from members of `group` (for group disagreement)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="quotas")
    group = models.ForeignKey(LabelerGroup, on_delete=models.CASCADE, related_name="quotas")
    min_per_item = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "group"], name="quota_unique")]


# --- Background jobs -----------------------------------------------------------------------
