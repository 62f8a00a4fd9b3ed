from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from annotation.formats.annotators import mapping_parse
from annotation.formats.base import ImportFileError
from annotation.models import (
    AdjudicationStatus,
    AdjudicationUse,
    ExportFormat,
    ImportFormat,
    ItemPurpose,
    LinkKind,
    Project,
    ProjectKind,
    WrittenPromptKind,
)
from annotation.selectors.items import SORT_LABELS, ItemFilters


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=ProjectKind.choices)
    ranking_size = forms.IntegerField(
        min_value=2, max_value=9, initial=2, label="Responses per item (K)"
    )
    overlap_target = forms.IntegerField(
        min_value=1, max_value=50, initial=3, label="Labelers per item"
    )
    rationale_required = forms.BooleanField(required=False)
    red_team = forms.BooleanField(
        required=False,
        label="Red team (pairwise)",
        help_text="Labelers pick the MORE harmful reply; exports mark it and training keeps "
        "it apart from ordinary projects.",
    )
    gold_threshold = forms.FloatField(
        min_value=0, max_value=1, initial=0.7, help_text="Minimum accuracy on gold items."
    )
    screening_threshold = forms.FloatField(
        min_value=0,
        max_value=1,
        initial=0.8,
        help_text="Accuracy a new labeler needs on the screening set.",
    )
    screening_min_items = forms.IntegerField(
        min_value=1,
        max_value=100,
        initial=5,
        help_text="Screening items judged before the decision.",
    )
    guidelines = forms.CharField(widget=forms.Textarea, help_text="Markdown.")


class ImportForm(forms.Form):
    format = forms.ChoiceField(choices=ImportFormat.choices)
    file = forms.FileField(help_text="JSONL, optionally gzip-compressed.")
    mapping = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Column mapping (per-annotator format)",
        help_text='Optional JSON, e.g. {"annotator_id": "rater_id", "labels": ["Q_overall"]}; '
        "columns left out are detected from their names (docs/importing.md).",
    )
    annotators_file = forms.FileField(
        required=False,
        label="Annotators file (per-annotator format)",
        help_text="Optional CSV or JSONL of annotator attributes, one row per annotator id.",
    )

    def clean_mapping(self) -> dict[str, Any]:
        try:
            return mapping_parse(self.cleaned_data.get("mapping", ""))
        except ImportFileError as exc:
            raise forms.ValidationError(str(exc)) from None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cap = filesizeformat(settings.CHORUS_MAX_UPLOAD_BYTES)
        self.fields["file"].help_text = f"JSONL, optionally gzip-compressed; at most {cap}."


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=ExportFormat.choices)


class GuidelinesForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea, label="Guidelines (markdown)")


class LabelerFilterForm(forms.Form):
    """The admin's labeler list filters (GET); bad values fall back to no filter."""

    search = forms.CharField(required=False, max_length=100, label="Username or pseudonym")
    group = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    attribute = forms.ChoiceField(required=False)
    value = forms.CharField(required=False, max_length=100)
    status = forms.ChoiceField(
        required=False,
        choices=[("active", "Active"), ("deactivated", "Deactivated"), ("all", "All")],
    )
    consent = forms.ChoiceField(
        required=False,
        choices=[("", "Any consent"), ("given", "Consent given"), ("missing", "No consent")],
    )

    def __init__(self, *args: Any, groups: Any = (), attributes: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = [("", "Any group")] + [(g.pk, g.name) for g in groups]
        self.fields["attribute"].choices = [("", "Any attribute")] + [
            (a.name, a.name) for a in attributes
        ]


class LabelerGroupForm(forms.Form):
    """A group's name, description and priority; its rules come from `rules_from_data`."""

    name = forms.CharField(max_length=100)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    priority = forms.IntegerField(
        min_value=0,
        max_value=32767,
        initial=100,
        help_text="A labeler in several groups counts, in training runs, in the group with the "
        "lowest number.",
    )


def rules_from_data(data: Any, attributes: Any) -> dict[str, list[str]]:
    """{attribute: [values]} from a group form: `rule__<name>` is a list of checked options,
    or comma-separated free text for an attribute without options."""
    rules: dict[str, list[str]] = {}
    for attribute in attributes:
        key = f"rule__{attribute.name}"
        if attribute.options:
            values = [v for v in data.getlist(key) if v in attribute.options]
        else:
            values = [v.strip() for v in data.get(key, "").split(",") if v.strip()]
        if values:
            rules[attribute.name] = values
    return rules


class MemberAddForm(forms.Form):
    labeler = forms.CharField(max_length=150, label="Username or pseudonym")


class ProjectAccessForm(forms.Form):
    mode = forms.ChoiceField(
        choices=[("all", "All labelers"), ("chosen", "Only the groups and labelers below")],
        widget=forms.RadioSelect,
    )
    groups = forms.TypedMultipleChoiceField(
        required=False, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    labelers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Usernames, separated by commas or new lines.",
    )

    def __init__(self, *args: Any, group_choices: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["groups"].choices = list(group_choices)

    def usernames(self) -> list[str]:
        text = self.cleaned_data.get("labelers", "")
        return [u.strip() for u in text.replace(",", "\n").splitlines() if u.strip()]


class RecruitmentLinkForm(forms.Form):
    """An admin's new recruitment link (annotation.services.recruitment)."""

    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=LinkKind.choices)
    projects = forms.ModelMultipleChoiceField(queryset=Project.objects.order_by("name"))
    participant_parameter = forms.CharField(
        max_length=40,
        required=False,
        help_text="Empty: the platform's own (Prolific: PROLIFIC_PID, STUDY_ID, SESSION_ID; "
        "MTurk: workerId, hitId, assignmentId). Other platforms: name at least this one.",
    )
    study_parameter = forms.CharField(max_length=40, required=False)
    session_parameter = forms.CharField(max_length=40, required=False)
    completion_code = forms.CharField(max_length=100, required=False)
    completion_url = forms.URLField(
        max_length=500, required=False, assume_scheme="https", help_text="https:// only."
    )
    quota_items = forms.IntegerField(
        min_value=1, required=False, help_text="Empty: finished when nothing is left."
    )
    max_participants = forms.IntegerField(min_value=1, required=False)
    expires_at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Empty: never.",
    )


class SignupForm(forms.Form):
    username = forms.CharField(max_length=150)
    password = forms.CharField(widget=forms.PasswordInput, max_length=128)
    password_again = forms.CharField(widget=forms.PasswordInput, max_length=128)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", "The passwords differ.")
        return data


class ConsentTextForm(forms.Form):
    text = forms.CharField(
        widget=forms.Textarea, max_length=20_000, label="Consent text (markdown)"
    )


class AttributeDefinitionForm(forms.Form):
    name = forms.CharField(max_length=40, help_text="Lowercase, e.g. age_range; fixed once made.")
    question = forms.CharField(max_length=200)
    purpose = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="In plain words, what the answer is used for.",
    )
    options = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="One answer per line; empty: a free-text answer.",
    )
    asked = forms.BooleanField(required=False, initial=True, label="Ask in the questionnaire")
    order = forms.IntegerField(min_value=0, max_value=32767, initial=100)

    def clean_options(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["options"].splitlines() if line.strip()]


# --- Project lifecycle: settings, clone, delete --------------------------------------------


def rubric_parse(text: str) -> list[dict[str, Any]]:
    """One criterion a line: `Name | 1-7 | description` (a numeric scale) or
    `Name | Yes/No/Unsure | description` (labels). Raises forms.ValidationError naming the line."""
    criteria = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, scale, description = ([p.strip() for p in line.split("|", 2)] + ["", ""])[:3]
        spec: dict[str, Any] = {"name": name, "description": description}
        low, dash, high = scale.partition("-")
        if not scale:
            pass
        elif dash and low.strip().lstrip("-").isdigit() and high.strip().lstrip("-").isdigit():
            spec.update(scale_min=int(low), scale_max=int(high))
        elif "/" in scale:
            spec["options"] = [label.strip() for label in scale.split("/") if label.strip()]
        else:
            raise forms.ValidationError(
                f"line {number}: the scale must read like 1-7 or Yes/No, not {scale!r}"
            )
        if not name:
            raise forms.ValidationError(f"line {number}: a criterion needs a name")
        criteria.append(spec)
    return criteria


def rubric_text(criteria: Any) -> str:
    """The current criteria in rubric_parse's format (the settings form's initial value)."""
    lines = []
    for c in criteria:
        scale = "/".join(c.options) if c.options else f"{c.scale_min}-{c.scale_max}"
        lines.append(" | ".join(part for part in (c.name, scale, c.description) if part))
    return "\n".join(lines)


class ProjectSettingsForm(forms.Form):
    """A project's editable settings; one `quota_<group id>` field per group the user may see."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    overlap_target = forms.IntegerField(
        min_value=1,
        max_value=50,
        label="Labelers per item",
        help_text="Lowering it keeps every judgment already made: items with more labelers "
        "than the new target count as complete and are handed to nobody else.",
    )
    rationale_required = forms.BooleanField(required=False)
    gold_threshold = forms.FloatField(min_value=0, max_value=1)
    screening_threshold = forms.FloatField(min_value=0, max_value=1)
    screening_min_items = forms.IntegerField(min_value=1, max_value=100)
    edit_window_minutes = forms.IntegerField(
        min_value=0,
        max_value=1440,
        label="Edit window (minutes)",
        help_text="How long after submitting labelers may go back and change a judgment (the "
        "earlier version is kept as history); 0 turns it off.",
    )
    rubric = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One criterion a line: Name | 1-7 | description, or Name | Yes/No | "
        "description. Any change makes a new rubric version; ratings already made keep the "
        "criterion (and scale) they were made on.",
    )

    def __init__(self, *args: Any, groups: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for group in groups:
            self.fields[f"quota_{group.pk}"] = forms.IntegerField(
                min_value=0,
                max_value=50,
                required=False,
                label=f"Quota: {group.name}",
                help_text="Judgments per item reserved for this group (0 = none).",
            )

    def clean_rubric(self) -> list[dict[str, Any]]:
        return rubric_parse(self.cleaned_data["rubric"])

    def quotas(self) -> dict[int, int]:
        return {
            int(name.removeprefix("quota_")): value or 0
            for name, value in self.cleaned_data.items()
            if name.startswith("quota_")
        }

    def settings(self) -> dict[str, Any]:
        skip = {"rubric"}
        return {
            k: v
            for k, v in self.cleaned_data.items()
            if k not in skip and not k.startswith("quota_")
        }


class ProjectCloneForm(forms.Form):
    name = forms.CharField(max_length=200, label="Name of the copy")


class ProjectDeleteForm(forms.Form):
    confirm_name = forms.CharField(max_length=200, label="Type the project's name to confirm")


# --- the item browser and review ----------------------------------------------------------

TRISTATE = [("", "Any"), ("yes", "Yes"), ("no", "No")]


class ItemFilterForm(forms.Form):
    """The item browser's filters (the page and GET /api/projects/<id>/items/); every field is
    optional and an invalid one is answered 400 with its name."""

    q = forms.CharField(required=False, max_length=200, label="Search prompts and responses")
    judged_min = forms.IntegerField(required=False, min_value=0, label="Judged at least")
    judged_max = forms.IntegerField(required=False, min_value=0, label="Judged at most")
    overlap = forms.ChoiceField(
        required=False,
        choices=[("", "Any"), ("reached", "Reached"), ("open", "Still open")],
        label="Overlap target",
    )
    skipped = forms.ChoiceField(required=False, choices=TRISTATE, label="Skipped by someone")
    flagged = forms.ChoiceField(required=False, choices=TRISTATE, label="Flagged")
    agreement_min = forms.FloatField(required=False, min_value=0, max_value=1)
    agreement_max = forms.FloatField(required=False, min_value=0, max_value=1)
    contested = forms.ChoiceField(required=False, choices=TRISTATE, label="Contested in report")
    source_model = forms.CharField(required=False, max_length=300, label="Response source")
    group = forms.CharField(required=False, max_length=100, label="Judged by group")
    labeler = forms.CharField(required=False, max_length=20, label="Judged by labeler")
    purpose = forms.ChoiceField(required=False, choices=[("", "Any"), *ItemPurpose.choices])
    excluded = forms.ChoiceField(required=False, choices=TRISTATE, label="Excluded from training")
    review = forms.ChoiceField(
        required=False,
        choices=[("", "Any"), ("none", "Not sent"), *AdjudicationStatus.choices],
    )
    date_from = forms.DateField(required=False, label="Created from")
    date_to = forms.DateField(required=False, label="Created until")
    sort = forms.ChoiceField(required=False, choices=list(SORT_LABELS.items()))
    after = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)

    def filters(self) -> ItemFilters:
        """The cleaned filters (call after is_valid())."""
        data = dict(self.cleaned_data)
        for name in ("skipped", "flagged", "contested", "excluded"):
            data[name] = {"yes": True, "no": False}.get(data[name])
        data["sort"] = data["sort"] or "oldest"
        return ItemFilters(**data)


class ItemIdsField(forms.Field):
    """Item ids ticked in a table (`items=1&items=2`): 1 to 1000 whole numbers."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        values = value if isinstance(value, list | tuple) else [value] if value else []
        try:
            ids = [int(v) for v in values]
        except (TypeError, ValueError):
            raise forms.ValidationError("Item ids are whole numbers.") from None
        if not 1 <= len(ids) <= 1000:
            raise forms.ValidationError("Tick 1 to 1000 items.")
        return ids


class ItemBulkForm(forms.Form):
    """A bulk action on the items ticked in the browser."""

    ACTIONS = [
        ("gold", "Mark as gold with answer"),
        ("exclude", "Exclude from training"),
        ("include", "Include in training again"),
        ("requeue", "Requeue for more judgments"),
        ("review", "Send to review"),
    ]
    action = forms.ChoiceField(choices=ACTIONS)
    items = ItemIdsField()
    best_position = forms.IntegerField(
        required=False, min_value=0, max_value=8, label="Best response (0 = A)"
    )
    more = forms.IntegerField(required=False, min_value=1, max_value=20, initial=1)
    reviewer = forms.IntegerField(required=False, min_value=1, label="Reviewer (user id)")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("action") == "gold" and data.get("best_position") is None:
            self.add_error("best_position", "Say which response is best.")
        return data


class AdjudicateForm(forms.Form):
    best_position = forms.IntegerField(min_value=0, max_value=8)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


class AdjudicationUseForm(forms.Form):
    use = forms.ChoiceField(choices=AdjudicationUse.choices, label="Adjudicated answers are")


class WrittenPromptForm(forms.Form):
    kind = forms.ChoiceField(
        choices=WrittenPromptKind.choices,
        initial=WrittenPromptKind.PLAIN,
        help_text="Plain: any task, as varied as you can. Few-shot: an instruction followed by "
        "several examples. Use case: a real task from the guidelines' list.",
    )
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), label="Prompt")
    tags = forms.CharField(
        required=False, max_length=450, help_text="Optional, comma-separated (e.g. code, travel)."
    )

    def clean_tags(self) -> list[str]:
        return [t for t in self.cleaned_data["tags"].split(",") if t.strip()]


class WrittenPromptReviewForm(forms.Form):
    accept = forms.TypedChoiceField(
        choices=[("1", "Accept"), ("0", "Reject")], coerce=lambda v: v == "1"
    )
    note = forms.CharField(required=False, max_length=500)
