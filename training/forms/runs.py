"""A training run's fields, defined once: `RunInput` (a DRF serializer) holds every field, its
default, label and validation, and the typed hyperparameters (services.runs.Hyperparameters,
checked against the trainer's config class). The API validates with it directly; the HTML page
renders `RunForm`, whose widgets are derived from RunInput and which validates through it, so
both give the service the same arguments and name the same fields in their errors.

PPO/GRPO runs choose a reward run and which of its models (`reward_group`: pooled, or a group's
model of a per-group reward run; issue 11). The API takes the group's name; the page offers the
groups some usable reward run has a model for, and the service checks the chosen run has it.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.forms.utils import ErrorDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from annotation.models import LabelerGroup, Project
from annotation.selectors.labelers import groups_with_sizes
from training.ml.presets import PRESETS, preset_table
from training.models import REWARD_RULES, BothBadPolicy, RunKind, TiePolicy, TrainingRun
from training.selectors.runs import reward_group_choices, reward_runs_usable
from training.services.runs import hyperparameters_parse

HYPERPARAMETERS_EXAMPLE = '{"max_steps": 50, "batch_size": 8, "learning_rate": 1e-05}'


@extend_schema_field(OpenApiTypes.OBJECT)
class HyperparametersField(serializers.Field):
    """A JSON object: a dict (API) or its text (the HTML form's textarea)."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, str):
            try:
                data = json.loads(data.strip() or "{}")
            except json.JSONDecodeError as exc:
                raise serializers.ValidationError(
                    f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
                ) from exc
            except RecursionError as exc:
                raise serializers.ValidationError("Not valid JSON: nested too deeply.") from exc
        if not isinstance(data, dict):
            raise serializers.ValidationError('Give a JSON object, e.g. {"max_steps": 50}.')
        return data

    def to_representation(self, value: Any) -> Any:
        return getattr(value, "values", value)


class RunInput(serializers.Serializer):
    """What a researcher chooses for a new run (services.runs.run_create's arguments)."""

    name = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    kind = serializers.ChoiceField(choices=RunKind.choices)
    base_model = serializers.CharField(
        max_length=500,
        help_text="A Hugging Face model id or a directory on the server, e.g. var/models/tiny-lm.",
    )
    projects = serializers.PrimaryKeyRelatedField(many=True, queryset=Project.objects.all())
    labeler_groups = serializers.PrimaryKeyRelatedField(
        many=True, queryset=LabelerGroup.objects.all(), required=False, default=list,
        help_text="Empty: every labeler, plus imports.",
    )  # fmt: skip
    date_from = serializers.DateField(required=False, allow_null=True, default=None)
    date_to = serializers.DateField(required=False, allow_null=True, default=None)
    include_external = serializers.BooleanField(
        required=False, default=True, label="Include imported judgments"
    )
    tie_policy = serializers.ChoiceField(
        choices=TiePolicy.choices, default=TiePolicy.SKIP, label="Ties"
    )
    both_bad_policy = serializers.ChoiceField(
        choices=BothBadPolicy.choices, default=BothBadPolicy.SKIP, label="Both bad"
    )
    per_group = serializers.BooleanField(
        required=False, default=False, label="Also one reward model per group (cross-group matrix)"
    )
    group_balance = serializers.BooleanField(
        required=False, default=False, label="Balance groups (equal total weight per group)"
    )
    reward_run = serializers.PrimaryKeyRelatedField(
        queryset=TrainingRun.objects.all(), required=False, allow_null=True, default=None,
        label="Reward model run (PPO/GRPO)",
    )  # fmt: skip
    reward_group = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default="",
        label="Which of its models",
        help_text='PPO/GRPO: "pooled" (or empty) for the reward run\'s pooled model, or the name '
        "of a labeler group it trained a model for (per-group reward runs).",
    )  # fmt: skip
    reward_rule = serializers.ChoiceField(
        choices=REWARD_RULES, required=False, allow_blank=True, default="",
        label="Or a rule-based reward (GRPO)",
    )  # fmt: skip
    preset = serializers.ChoiceField(
        choices=list(PRESETS.items()), required=False, allow_blank=True, default="",
        label="Preset",
        help_text="Named hyperparameters (training.ml.presets), e.g. demo for the tiny demo model; "
        "hyperparameters given below override it. None: the defaults, meant for real models.",
    )  # fmt: skip
    hyperparameters = HyperparametersField(
        required=False, default=dict,
        help_text="JSON object of training.ml.config fields (e.g. max_steps, batch_size, learning_rate, beta).",
    )  # fmt: skip

    def validate_labeler_groups(self, groups: list[LabelerGroup]) -> list[LabelerGroup]:
        """Groups below CHORUS_MIN_GROUP_SIZE cannot be picked (annotation.privacy): the run
        would name them to researchers. Refused exactly as an id that does not exist, so that
        trying ids reveals neither a small group's name nor that it exists."""
        shown = {group.pk for group, _ in groups_with_sizes(for_admin=False)}
        for group in groups:
            if group.pk not in shown:
                raise serializers.ValidationError(
                    f'Invalid pk "{group.pk}" - object does not exist.'
                )
        return groups

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            attrs["hyperparameters"] = hyperparameters_parse(
                kind=attrs["kind"], values=attrs["hyperparameters"], preset=attrs.pop("preset", "")
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        return attrs


def _widget(field: serializers.Field) -> forms.Field:
    """The HTML form field that renders a RunInput field."""
    common = {"label": field.label, "help_text": field.help_text or "", "required": field.required}
    if isinstance(field, serializers.ManyRelatedField):
        queryset = field.child_relation.queryset
        return forms.ModelMultipleChoiceField(queryset=queryset, **common)
    if isinstance(field, serializers.PrimaryKeyRelatedField):
        return forms.ModelChoiceField(queryset=field.queryset, **common)
    if isinstance(field, serializers.ChoiceField):
        blank = [("", "—")] if field.allow_blank else []
        return forms.ChoiceField(choices=blank + list(field.choices.items()), **common)
    if isinstance(field, serializers.BooleanField):
        return forms.BooleanField(**{**common, "required": False})
    if isinstance(field, serializers.DateField):
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if isinstance(field, HyperparametersField):
        textarea = forms.Textarea(attrs={"rows": 4, "spellcheck": "false"})
        return forms.CharField(widget=textarea, initial=HYPERPARAMETERS_EXAMPLE, **common)
    return forms.CharField(max_length=getattr(field, "max_length", None), **common)


class RunForm(forms.Form):
    """RunInput as an HTML form: widgets for its fields; `is_valid` validates with RunInput
    (an unticked checkbox is false), and `cleaned_data` is its validated data."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in RunInput().fields.items():
            self.fields[name] = _widget(field)
            if field.default is not empty and not callable(field.default):
                self.fields[name].initial = field.default
        self.fields["reward_run"].queryset = reward_runs_usable()  # type: ignore[attr-defined]
        # groups below CHORUS_MIN_GROUP_SIZE are not offered (annotation.privacy)
        shown = [group.pk for group, _ in groups_with_sizes(for_admin=False)]
        self.fields["labeler_groups"].queryset = LabelerGroup.objects.filter(pk__in=shown)  # type: ignore[attr-defined]
        self.fields["reward_group"] = forms.ChoiceField(
            choices=reward_group_choices(), required=False,
            label=self.fields["reward_group"].label, help_text=self.fields["reward_group"].help_text,
        )  # fmt: skip
        self.fields["hyperparameters"].initial = HYPERPARAMETERS_EXAMPLE
        self.fields["preset"].widget.attrs["data-presets"] = json.dumps(preset_table())
        demo_model = settings.VAR_DIR / "models" / "tiny-lm"
        if (demo_model / "config.json").exists():
            self.fields["base_model"].initial = str(demo_model)

    def full_clean(self) -> None:
        self._errors = ErrorDict()
        self.cleaned_data: dict[str, Any] = {}
        if not self.is_bound:
            return
        data = self.data.copy()
        for name, field in self.fields.items():
            if isinstance(field, forms.BooleanField) and name not in data:
                data[name] = "false"
        spec = RunInput(data=data)
        if spec.is_valid():
            self.cleaned_data = dict(spec.validated_data)
            return
        for name, errors in spec.errors.items():
            field = name.partition(".")[0]  # "hyperparameters.max_steps" lands on hyperparameters
            messages = [str(e) if field == name else f"{name}: {e}" for e in errors]
            self.add_error(field if field in self.fields else None, messages)

    def service_arguments(self) -> dict[str, Any]:
        return self.cleaned_data
