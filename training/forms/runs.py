"""A training run's fields, defined once: `RunInput` (a DRF serializer) holds every field, its
default, label and validation, and the typed hyperparameters (services.runs.Hyperparameters,
checked against the trainer's config class). The API validates with it directly; the HTML page
renders `RunForm`, whose widgets are derived from RunInput and which validates through it, so
both give the service the same arguments and name the same fields in their errors.

The page types the hyperparameters (issue 13): one box per field of the chosen algorithm's config
(`hp_<kind>_<field>`, built from training.ml.hyperparameters, which reads each field's meaning
and a sensible range from training.ml.config), only the chosen algorithm's shown; an empty box
keeps the preset's or the default value. The filled boxes, over the JSON box (fields without a
box, e.g. GRPO's reward_rule_args), are the `hyperparameters` object the API takes, and errors on
`hyperparameters.<field>` land on the field's box.

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
from training.ml.hyperparameters import FieldSpec, field_specs
from training.ml.presets import PRESETS, preset_table
from training.models import REWARD_RULES, BothBadPolicy, RunKind, TiePolicy, TrainingRun
from training.resources import accelerate_config_names
from training.selectors.runs import reward_group_choices, reward_runs_usable
from training.services.runs import hyperparameters_parse

BOOL_VALUES = {"true": True, "false": False}
# RewardConfig.method's options, in words (training.ml.config.REWARD_METHODS).
REWARD_METHOD_CHOICES = [
    ("bt", "Bradley-Terry (one score)"),
    ("conditioned", "Group-conditioned r(x, y, group)"),
    ("dpl", "Distributional (mean and spread, DPL)"),
    ("odin", "Length-disentangled (ODIN)"),
]


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
    reward_method = serializers.ChoiceField(
        choices=REWARD_METHOD_CHOICES, required=False, allow_blank=True, default="",
        label="Reward-model method",
        help_text="Reward runs. Bradley-Terry: one score. Group-conditioned: one model scores "
        "each response for each labeler group (the group is an input token); with per-group "
        "models the page compares the two. Distributional (DPL): a mean and a spread per "
        "response; the page lists the pairs with the widest spread, the ones a hidden context "
        "such as group membership splits. Length-disentangled (ODIN): a quality score and a "
        "length score; scoring and PPO/GRPO use quality only. Any method can be an ensemble "
        "(ensemble size below).",
    )  # fmt: skip
    reward_run = serializers.PrimaryKeyRelatedField(
        queryset=TrainingRun.objects.all(), required=False, allow_null=True, default=None,
        label="Reward model run (PPO/GRPO)",
    )  # fmt: skip
    reward_group = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default="",
        label="Which of its models",
        help_text='PPO/GRPO: "pooled" (or empty) for the reward run\'s pooled model, or the name '
        "of a labeler group it trained a model for (per-group reward runs) or, for a "
        "group-conditioned reward run, a group to condition its reward on. "
        'A latent-groups reward run can instead be optimised for its worst-off cluster or a '
        'weighted welfare: hyperparameter reward_aggregate "maxmin" or "welfare" with '
        'welfare_weights {"1": 1, "2": 3}.',
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
        help_text="JSON object of training.ml.config fields (e.g. max_steps, batch_size, learning_rate, beta; "
        'DPO {"group_robust": true, "robust_eta": 0.1} for group-robust DPO; reward '
        '{"latent_groups": 2} to discover 2 latent labeler groups by EM).',
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
        textarea = forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})
        return forms.CharField(widget=textarea, **common)
    return forms.CharField(max_length=getattr(field, "max_length", None), **common)


def _default_text(spec: FieldSpec) -> str:
    if spec.default is None:
        return "none" if spec.name != "bf16" else "auto"
    if isinstance(spec.default, bool):
        return "on" if spec.default else "off"
    return str(spec.default)


def _typed_field(spec: FieldSpec) -> forms.Field:
    """The box of one hyperparameter: empty keeps the preset's or the default value."""
    common = {"label": spec.label, "help_text": spec.meaning, "required": False}
    default = f"default ({_default_text(spec)})"
    if spec.type == "bool":
        return forms.ChoiceField(
            choices=[("", default), ("true", "on"), ("false", "off")], **common
        )
    if spec.type == "choice":
        return forms.ChoiceField(choices=[("", default), *((c, c) for c in spec.choices)], **common)
    attrs = {"placeholder": default}
    if spec.type == "str":
        return forms.CharField(widget=forms.TextInput(attrs=attrs), max_length=200, **common)
    if spec.type == "int":
        return forms.IntegerField(widget=forms.NumberInput(attrs=attrs), **common)
    return forms.FloatField(widget=forms.NumberInput(attrs={**attrs, "step": "any"}), **common)


def typed_name(kind: str, name: str) -> str:
    """The form field of hyperparameter `name` of algorithm `kind`."""
    return f"hp_{kind}_{name}"


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
        self.fields["hyperparameters"].label = "Other fields (JSON)"
        self.fields["hyperparameters"].help_text = (
            "Fields without a box above, e.g. GRPO's reward_rule_args "
            '{"pattern": "\\d+"}; the boxes win over the same key here. '
            "The API takes every hyperparameter as this JSON object."
        )
        self.fields["preset"].widget.attrs["data-presets"] = json.dumps(preset_table())
        self.typed_keys: set[str] = set()  # hyperparameters given in their boxes
        self.specs: dict[str, list[FieldSpec]] = {}
        for kind in RunKind.values:
            self.specs[kind] = [s for s in field_specs(kind) if s.type != "dict"]
            for spec in self.specs[kind]:
                self.fields[typed_name(kind, spec.name)] = _typed_field(spec)
        for kind in RunKind.values:  # a name from CHORUS_ACCELERATE_CONFIGS, never a path
            box = self.fields[typed_name(kind, "accelerate_config")]
            names = [("", "default (one process, or CHORUS_TRAINING_GPUS)")]
            box.choices = names + [(n, n) for n in accelerate_config_names()]  # type: ignore[attr-defined]
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
        typed = self._typed_values()
        if typed:
            try:
                extras = HyperparametersField().to_internal_value(data.get("hyperparameters", ""))
            except serializers.ValidationError as exc:
                self.add_error("hyperparameters", list(exc.detail))  # type: ignore[arg-type]
                return
            data["hyperparameters"] = {**extras, **typed}  # type: ignore[assignment]
        spec = RunInput(data=data)
        if spec.is_valid() and not self._errors:
            self.cleaned_data = dict(spec.validated_data)
            return
        for name, errors in spec.errors.items():
            field, head = self.error_field(name), name.partition(".")[0]
            messages = [f"{name}: {e}" if field == head != name else str(e) for e in errors]
            self.add_error(field if field in self.fields else None, messages)

    @property
    def selected_kind(self) -> str:
        """The algorithm whose boxes are shown: the posted one, else the first."""
        kind = self.data.get("kind") if self.is_bound else None
        return kind if kind in RunKind.values else RunKind.values[0]

    def _typed_values(self) -> dict[str, Any]:
        """The filled boxes of the chosen algorithm, typed (their own errors on the boxes)."""
        kind, values = self.selected_kind, {}
        for spec in self.specs[kind]:
            name = typed_name(kind, spec.name)
            raw = self.data.get(name, "")
            if raw in ("", None):
                continue
            try:
                value = self.fields[name].clean(raw)
            except DjangoValidationError as exc:
                self.add_error(name, exc)
                continue
            values[spec.name] = BOOL_VALUES.get(value, value) if spec.type == "bool" else value
        self.typed_keys = set(values)
        return values

    def error_field(self, name: str) -> str:
        """The form field that shows an error on `name`: the box of a hyperparameter typed in
        one ("hyperparameters.beta" -> hp_dpo_beta), else the part before the first dot (a key
        given in the JSON box stays there)."""
        head, _, key = name.partition(".")
        if head == "hyperparameters" and key in self.typed_keys:
            return typed_name(self.selected_kind, key)
        return head

    def hyperparameter_sections(self) -> list[dict[str, Any]]:
        """Per algorithm: its own boxes, the shared ones, and the rarely changed ones."""
        sections = []
        for kind, title in RunKind.choices:
            bound = [(spec, self[typed_name(kind, spec.name)]) for spec in self.specs[kind]]
            sections.append({
                "kind": kind, "title": title, "shown": kind == self.selected_kind,
                "specific": [b for b in bound if b[0].specific],
                "common": [b for b in bound if not b[0].specific and not b[0].advanced],
                "advanced": [b for b in bound if b[0].advanced],
                "open": any(f.errors or f.value() for s, f in bound if s.advanced),
            })  # fmt: skip
        return sections

    def service_arguments(self) -> dict[str, Any]:
        return self.cleaned_data
