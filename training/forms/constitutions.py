"""The form that starts a constitution job from a project's "whose preferences" page: the LLM
(an admin's endpoint and its model, or a local model) and the search's main options. The
service validates the rest (services/constitutions.py)."""

from __future__ import annotations

from typing import Any

from django import forms

from training.ml.icai import ICAIConfig
from training.models import InferenceEndpoint
from training.selectors.generation import endpoints_list

DEFAULTS = ICAIConfig()


class ConstitutionJobForm(forms.Form):
    endpoint = forms.ModelChoiceField(
        queryset=InferenceEndpoint.objects.none(), required=False,
        label="OpenAI-compatible endpoint",
        help_text="One an admin has set up (Django admin: Inference endpoints).",
    )  # fmt: skip
    api_model = forms.CharField(max_length=200, required=False, label="Endpoint's model name")
    model = forms.CharField(
        max_length=500, required=False, label="…or a local model",
        help_text="A directory inside the model roots (CHORUS_MODEL_ROOTS) or a hub id.",
    )  # fmt: skip
    threshold = forms.FloatField(
        min_value=0, max_value=1, initial=DEFAULTS.threshold, label="Agreement threshold",
        help_text="A principle is kept for a group when the judge, given only the principle, "
        "picks what the group picked at least this often.",
    )  # fmt: skip
    pairs_per_group = forms.IntegerField(
        min_value=1, max_value=10_000, initial=DEFAULTS.pairs_per_group,
        label="Pairs per group to propose from",
    )  # fmt: skip
    test_pairs_per_group = forms.IntegerField(
        min_value=1, max_value=10_000, initial=DEFAULTS.test_pairs_per_group,
        label="Pairs per group to test each principle on",
    )  # fmt: skip
    max_principles = forms.IntegerField(
        min_value=1, max_value=500, initial=DEFAULTS.max_principles,
        label="Principles tested (after merging near-duplicates)",
    )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.project = kwargs.pop("project")
        super().__init__(*args, **kwargs)
        self.fields["endpoint"].queryset = endpoints_list()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("endpoint") and not data.get("api_model"):
            self.add_error("api_model", "Name the endpoint's model.")
        if not data.get("endpoint") and not data.get("model"):
            raise forms.ValidationError("Choose an endpoint (with its model) or a local model.")
        return data

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        llm = (
            {"endpoint": data["endpoint"].name, "api_model": data["api_model"]}
            if data.get("endpoint")
            else {"model": data["model"]}
        )
        keys = ("threshold", "pairs_per_group", "test_pairs_per_group", "max_principles")
        return {"project": self.project, "llm": llm, "options": {k: data[k] for k in keys}}
