from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings

from annotation.models import LabelerGroup, Project
from training.models import REWARD_RULES, BothBadPolicy, RunKind, TiePolicy
from training.selectors import reward_runs_usable

HYPERPARAMETERS_EXAMPLE = '{"max_steps": 50, "batch_size": 8, "learning_rate": 1e-05}'


class RunForm(forms.Form):
    name = forms.CharField(max_length=200, required=False)
    kind = forms.ChoiceField(choices=RunKind.choices)
    base_model = forms.CharField(
        max_length=500,
        help_text="A Hugging Face model id or a directory on the server, e.g. var/models/tiny-lm.",
    )
    projects = forms.ModelMultipleChoiceField(queryset=Project.objects.all())
    labeler_groups = forms.ModelMultipleChoiceField(
        queryset=LabelerGroup.objects.all(),
        required=False,
        help_text="Empty: every labeler, plus imports.",
    )
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    include_external = forms.BooleanField(
        required=False, initial=True, label="Include imported judgments"
    )
    tie_policy = forms.ChoiceField(choices=TiePolicy.choices, initial=TiePolicy.SKIP, label="Ties")
    both_bad_policy = forms.ChoiceField(
        choices=BothBadPolicy.choices, initial=BothBadPolicy.SKIP, label="Both bad"
    )
    per_group = forms.BooleanField(
        required=False, label="Also one reward model per group (cross-group matrix)"
    )
    group_balance = forms.BooleanField(
        required=False, label="Balance groups (equal total weight per group)"
    )
    reward_run = forms.ModelChoiceField(
        queryset=reward_runs_usable(), required=False, label="Reward model run (PPO/GRPO)"
    )
    reward_rule = forms.ChoiceField(
        choices=[("", "—")] + [(r, r) for r in REWARD_RULES],
        required=False,
        label="Or a rule-based reward (GRPO)",
    )
    hyperparameters = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        initial=HYPERPARAMETERS_EXAMPLE,
        required=False,
        help_text="JSON object of training.ml.config fields (e.g. max_steps, batch_size, learning_rate, beta).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        demo_model = settings.VAR_DIR / "models" / "tiny-lm"
        if (demo_model / "config.json").exists():
            self.fields["base_model"].initial = str(demo_model)

    def clean_hyperparameters(self) -> dict[str, Any]:
        text = self.cleaned_data["hyperparameters"].strip() or "{}"
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            ) from exc
        if not isinstance(value, dict):
            raise forms.ValidationError('Give a JSON object, e.g. {"max_steps": 50}.')
        return value

    def clean_reward_rule(self) -> str:
        return self.cleaned_data["reward_rule"] or ""
