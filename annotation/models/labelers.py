"""Labelers' consented attributes (LabelerProfile) and the groups built from them by rule or
explicit membership, with per-group quotas."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from annotation.models.projects import Project


def new_pseudonym() -> str:
    return "L-" + secrets.token_hex(6)


ATTRIBUTE_NAME = RegexValidator(
    r"^[a-z][a-z0-9_]{0,39}$",
    "Use 1–40 lowercase letters, digits or underscores, starting with a letter.",
)
ATTRIBUTE_VALUE_CHARS = 100


class AttributeDefinition(models.Model):
    """An attribute labelers may report about themselves (or that an imported dataset carries):
    what is asked, the allowed answers, and what it is used for. Groups are defined by rules
    over these names; the values live on LabelerProfile.attributes."""

    name = models.CharField(
        max_length=40,
        unique=True,
        validators=[ATTRIBUTE_NAME],
        help_text="The key in LabelerProfile.attributes and in group rules, e.g. 'age_range'.",
    )
    question = models.CharField(max_length=200, help_text="What the questionnaire asks.")
    purpose = models.TextField(
        blank=True,
        help_text="In plain words, what the answer is used for (shown beside the question).",
    )
    options = models.JSONField(
        default=list,
        blank=True,
        help_text="Allowed answers (strings); empty means a free-text answer.",
    )
    asked = models.BooleanField(
        default=True,
        help_text="Asked in the onboarding questionnaire (attributes that only imported "
        "datasets carry are not).",
    )
    order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        options = self.options
        if not isinstance(options, list) or not all(
            isinstance(o, str) and o.strip() and len(o) <= ATTRIBUTE_VALUE_CHARS for o in options
        ):
            raise ValidationError(
                {
                    "options": f"A list of non-empty answers of at most {ATTRIBUTE_VALUE_CHARS} "
                    "characters."
                }
            )
        if len(set(options)) != len(options):
            raise ValidationError({"options": "Answers must be different."})


def attributes_clean(attributes: object) -> dict[str, str]:
    """A profile's attributes: {name: value} with valid names and short non-empty strings
    (raises ValidationError naming the attribute)."""
    if not isinstance(attributes, dict):
        raise ValidationError({"attributes": "A mapping of attribute name to value."})
    cleaned: dict[str, str] = {}
    for name, value in attributes.items():
        try:
            ATTRIBUTE_NAME(name)
        except ValidationError as exc:
            raise ValidationError(
                {"attributes": f"{str(name)[:40]!r}: {exc.messages[0]}"}
            ) from None
        if not isinstance(value, str) or not value.strip() or len(value) > ATTRIBUTE_VALUE_CHARS:
            raise ValidationError(
                {
                    "attributes": f"{name}: a non-empty text of at most {ATTRIBUTE_VALUE_CHARS} "
                    "characters."
                }
            )
        cleaned[name] = value.strip()
    return cleaned


class ConsentSource(models.TextChoices):
    LABELER = "labeler", "Given by the labeler"  # in Chorus (onboarding or an admin's record)
    DATASET = "dataset", "Provided by the dataset"  # an imported dataset's annotator attributes


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
    attributes = models.JSONField(
        default=dict,
        blank=True,
        help_text="{attribute name: value} (AttributeDefinition names); only with consent. "
        "An attribute the labeler preferred not to state is absent.",
    )
    consent_given_at = models.DateTimeField(
        null=True, blank=True, help_text="When the labeler agreed to their attributes being used."
    )
    consent_version = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The ConsentVersion the labeler last agreed to (kept after a withdrawal, so "
        "they are asked again only when a new version appears).",
    )
    questionnaire_answered_at = models.DateTimeField(
        null=True, blank=True, help_text="When they last answered the attribute questionnaire."
    )
    screening_passed_at = models.DateTimeField(null=True, blank=True)
    deactivated_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When an admin deactivated the labeler (their user is then inactive: no login, "
        "no labeling); their judgments stay. Empty while active.",
    )
    deactivated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The admin who deactivated the labeler.",
    )

    # --- External labelers: an imported dataset's annotators (issue 12, part 4) ---------------
    # A User that cannot log in (inactive, unusable password, no role) stands for one annotator
    # of one project's imported dataset, so their judgments count with a labeler identity and
    # groups exactly like in-app ones (services/annotator_imports.py).
    consent_source = models.CharField(
        max_length=10,
        choices=ConsentSource.choices,
        default=ConsentSource.LABELER,
        help_text="Who provided the attributes and the consent to use them.",
    )
    external_project = models.ForeignKey(
        Project,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="external_labelers",
        help_text="External labelers only: the project whose imported dataset they come from.",
    )
    external_id = models.CharField(
        max_length=200,
        blank=True,
        help_text="External labelers only: the annotator's id in the dataset (admins only).",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["external_project", "external_id"],
                condition=models.Q(external_project__isnull=False),
                name="external_labeler_once_per_project",
            ),
            models.CheckConstraint(
                condition=models.Q(external_project__isnull=True, external_id="")
                | (models.Q(external_project__isnull=False) & ~models.Q(external_id="")),
                name="external_labeler_has_project_and_id",
            ),
        ]

    # --- end of external labelers -------------------------------------------------------------

    def __str__(self) -> str:
        return self.pseudonym

    def clean(self) -> None:
        self.attributes = attributes_clean(self.attributes)
        if self.attributes and self.consent_given_at is None:
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
        max_length=40, validators=[ATTRIBUTE_NAME], help_text="An AttributeDefinition name."
    )
    value = models.CharField(max_length=ATTRIBUTE_VALUE_CHARS)

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
