"""Forms of the generation pages: a generation job, an evaluation, a scoring job. They only
parse; the services validate (their errors land on the form: views.common.add_service_errors)."""

from __future__ import annotations

from typing import Any

from django import forms

from annotation.models import Project, ProjectKind
from training.ml.config import SAMPLING_BOUNDS
from training.models import InferenceEndpoint, TrainingRun
from training.selectors.generation import endpoints_list, policy_runs_usable
from training.selectors.runs import reward_runs_usable


def _bounded(name: str, **kwargs: Any) -> forms.Field:
    """A sampling field bounded by training.ml.config.SAMPLING_BOUNDS (finite numbers only)."""
    low, high = SAMPLING_BOUNDS[name]
    if isinstance(low, int) and isinstance(high, int):
        return forms.IntegerField(min_value=low, max_value=high, **kwargs)
    return forms.FloatField(min_value=low, max_value=high, **kwargs)


class _SourcesForm(forms.Form):
    """Models to sample from (any mix of the three kinds) and how to sample."""

    runs = forms.ModelMultipleChoiceField(
        queryset=TrainingRun.objects.none(),
        required=False,
        label="Trained models (succeeded runs)",
    )
    models = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        required=False,
        label="Base models",
        help_text="One per line: a directory on the server or a Hugging Face id.",
    )
    endpoint = forms.ModelChoiceField(
        queryset=InferenceEndpoint.objects.none(),
        required=False,
        to_field_name="name",
        label="OpenAI-compatible endpoint",
        help_text="One an admin has set up (Django admin: Inference endpoints).",
    )
    api_model = forms.CharField(max_length=200, required=False, label="Endpoint's model name")
    chat = forms.BooleanField(required=False, initial=True, label="Chat endpoint")
    max_new_tokens = _bounded("max_new_tokens", initial=64)
    temperature = _bounded("temperature", initial=1.0)
    top_p = _bounded("top_p", initial=1.0, label="Top p")
    seed = _bounded("seed", initial=0)
    batch_size = _bounded("batch_size", initial=8)
    reward_run = forms.ModelChoiceField(
        queryset=TrainingRun.objects.none(),
        required=False,
        label="Score the new completions with (reward run)",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["runs"].queryset = policy_runs_usable()  # type: ignore[attr-defined]
        self.fields["endpoint"].queryset = endpoints_list()  # type: ignore[attr-defined]
        self.fields["endpoint"].label_from_instance = _endpoint_label  # type: ignore[attr-defined]
        self.fields["reward_run"].queryset = reward_runs_usable()  # type: ignore[attr-defined]

    def clean_top_p(self) -> float | None:
        top_p = self.cleaned_data.get("top_p")
        if top_p is not None and top_p <= 0:
            raise forms.ValidationError("Ensure this value is greater than 0.")
        return top_p

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        sources: list[dict[str, Any]] = [{"run": run.pk} for run in data.get("runs") or []]
        sources += [{"model": m.strip()} for m in data.get("models", "").splitlines() if m.strip()]
        if data.get("endpoint"):
            if not data.get("api_model"):
                self.add_error("api_model", "Name the endpoint's model.")
            sources.append(
                {"endpoint": data["endpoint"].name, "api_model": data.get("api_model", ""),
                 "chat": data.get("chat", False)}
            )  # fmt: skip
        if not sources:
            raise forms.ValidationError(
                "Choose at least one model: a run, a base model or an endpoint."
            )
        data["sources"] = sources
        names = ("max_new_tokens", "temperature", "top_p", "seed", "batch_size")
        data["sampling"] = {k: data[k] for k in names if data.get(k) is not None}
        return data


def _endpoint_label(endpoint: InferenceEndpoint) -> str:
    extra = f" ({endpoint.help_text})" if endpoint.help_text else ""
    return f"{endpoint.name}: {endpoint.host}{extra}"


class GenerationJobForm(_SourcesForm):
    project = forms.ModelChoiceField(queryset=Project.objects.all())
    samples_per_prompt = forms.IntegerField(
        min_value=1, max_value=9, initial=2, label="K (completions per prompt per model)"
    )
    written_from = forms.ModelChoiceField(
        queryset=Project.objects.filter(kind=ProjectKind.PROMPT_WRITING),
        required=False,
        label="Prompts written by labelers",
        help_text="Optional: generate for the accepted prompts of this prompt-writing project "
        "(copied into the project above) instead of the project's own prompts.",
    )
    field_order = ["project", "written_from", "samples_per_prompt"]

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        keys = (
            "project",
            "sources",
            "samples_per_prompt",
            "sampling",
            "reward_run",
            "written_from",
        )
        return {k: data[k] for k in keys}


class EvaluationForm(_SourcesForm):
    name = forms.CharField(max_length=200, label="Name of the evaluation project")
    prompts = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Held-out prompts, one per line (each becomes a user turn).",
    )
    overlap_target = forms.IntegerField(
        min_value=1, max_value=50, initial=3, label="Labelers per comparison"
    )
    field_order = ["name", "prompts", "overlap_target"]

    def clean_prompts(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["prompts"].splitlines() if line.strip()]

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        keys = ("name", "sources", "prompts", "sampling", "overlap_target", "reward_run")
        return {k: data[k] for k in keys}


class ScoringForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.all())
    reward_run = forms.ModelChoiceField(
        queryset=TrainingRun.objects.none(), label="Reward model (succeeded reward run)"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reward_run"].queryset = reward_runs_usable()  # type: ignore[attr-defined]

    def service_arguments(self) -> dict[str, Any]:
        return {
            "project": self.cleaned_data["project"],
            "reward_run": self.cleaned_data["reward_run"],
        }
