from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from annotation.formats.annotators import mapping_parse
from annotation.formats.base import ImportFileError
from annotation.models import ExportFormat, ImportFormat, ProjectKind


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
