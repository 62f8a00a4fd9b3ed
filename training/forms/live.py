"""The live settings of a pairwise project (training.services.live.live_config_set)."""

from __future__ import annotations

from django import forms

from annotation.models import Project, ProjectKind
from training.models import InferenceSource


class LiveConfigForm(forms.Form):
    source_a = forms.ModelChoiceField(
        queryset=InferenceSource.objects.filter(enabled=True), to_field_name="name"
    )
    source_b = forms.ModelChoiceField(
        queryset=InferenceSource.objects.filter(enabled=True),
        to_field_name="name",
        required=False,
        help_text="Empty: source A answers twice, with two seeds.",
    )
    turn_limit = forms.IntegerField(min_value=1, max_value=50, initial=5)
    max_new_tokens = forms.IntegerField(
        min_value=1, max_value=8192, required=False, help_text="Empty: each source's own limit."
    )
    prompt_source = forms.ModelChoiceField(
        queryset=Project.objects.filter(kind=ProjectKind.PROMPT_WRITING),
        required=False,
        label="Starting prompts from",
        help_text="A prompt-writing project: labelers may start from its accepted prompts.",
    )
