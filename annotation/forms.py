from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from annotation.models import (
    AdjudicationStatus,
    AdjudicationUse,
    ExportFormat,
    ImportFormat,
    ItemPurpose,
    ProjectKind,
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cap = filesizeformat(settings.CHORUS_MAX_UPLOAD_BYTES)
        self.fields["file"].help_text = f"JSONL, optionally gzip-compressed; at most {cap}."


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=ExportFormat.choices)


class GuidelinesForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea, label="Guidelines (markdown)")


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
