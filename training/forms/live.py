"""The live settings of a pairwise project (training.services.live.live_config_set)."""

from __future__ import annotations

from django import forms

from annotation.models import Project, ProjectKind
from training.models import InferenceSource


class LiveConfigForm(forms.Form):
    source_a = forms.ModelChoiceField(
        queryset=InferenceSource.objects.filter(enabled=True),
        to_field_name="name",
        label="First source",
        empty_label="Choose a source",
    )
    source_b = forms.ModelChoiceField(
        queryset=InferenceSource.objects.filter(enabled=True),
        to_field_name="name",
        required=False,
        label="Second source",
        empty_label="The first source again",
        help_text="Leave it as the first source to compare two samples of one model (two seeds).",
    )
    turn_limit = forms.IntegerField(
        min_value=1, max_value=50, initial=5, label="Turns per conversation",
        help_text="The conversation ends after this many judged turns.",
    )  # fmt: skip
    max_new_tokens = forms.IntegerField(
        min_value=1, max_value=8192, required=False, label="Longest reply (tokens)",
        help_text="Empty: each source's own limit.",
    )  # fmt: skip
    red_team = forms.BooleanField(
        required=False,
        label="Red team",
        help_text="Labelers try to elicit harmful replies and pick the MORE harmful one. Fixed "
        "once the project has judgments.",
    )
    prompt_source = forms.ModelChoiceField(
        queryset=Project.objects.filter(kind=ProjectKind.PROMPT_WRITING),
        required=False,
        label="Starting prompts from",
        empty_label="None: labelers write their own first message",
        help_text="A prompt-writing project: labelers may start from its accepted prompts.",
    )
