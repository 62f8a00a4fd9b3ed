from django import forms
from django.contrib import admin
from django.db import models as db_models

from training import models
from training.services.inference import source_check


@admin.register(models.TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "kind",
        "base_model",
        "status",
        "step",
        "total_steps",
        "created_at",
    ]
    list_filter = ["kind", "status"]
    search_fields = ["name", "base_model"]
    filter_horizontal = ["projects", "labeler_groups"]
    readonly_fields = [
        "config", "dataset_counts", "status", "cancel_requested", "step", "total_steps", "phase", "message",
        "final_metrics", "error", "heartbeat_at", "worker_hostname", "created_at", "started_at", "finished_at",
    ]  # fmt: skip


@admin.register(models.InferenceEndpoint)
class InferenceEndpointAdmin(admin.ModelAdmin):
    """Admins only (the admin site): which inference servers generation jobs may call."""

    list_display = ["name", "base_url", "key_env", "help_text"]
    search_fields = ["name", "base_url"]
    # Inference servers on a private network usually speak plain http.
    formfield_overrides = {db_models.URLField: {"assume_scheme": "http"}}


class InferenceSourceForm(forms.ModelForm):
    class Meta:
        model = models.InferenceSource
        fields = [
            "name", "kind", "model_path", "run", "endpoint", "api_model", "chat",
            "max_new_tokens", "temperature", "top_p", "enabled", "help_text",
        ]  # fmt: skip

    def clean(self) -> dict:
        data = super().clean()
        for field, value in data.items():
            setattr(self.instance, field, value)
        source_check(self.instance)  # the model directory inside the roots, the run succeeded
        data["model_path"] = self.instance.model_path
        return data


@admin.register(models.InferenceSource)
class InferenceSourceAdmin(admin.ModelAdmin):
    """Admins only (the admin site): which models answer live conversations (README "Live
    inference")."""

    form = InferenceSourceForm
    list_display = ["name", "kind", "enabled", "max_new_tokens", "temperature", "top_p"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "model_path", "api_model"]
    raw_id_fields = ["run"]


@admin.register(models.ReplyStream)
class ReplyStreamAdmin(admin.ModelAdmin):
    """Live replies, read only (for following up a failure)."""

    list_display = ["id", "source", "requested_by", "status", "token_count", "created_at"]
    list_filter = ["status", "source"]
    readonly_fields = [f.name for f in models.ReplyStream._meta.fields]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False
