from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from annotation.formats.annotators import mapping_parse
from annotation.formats.base import ImportFileError
from annotation.models import ExportFormat, ImportFormat, LinkKind, Project, ProjectKind


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
