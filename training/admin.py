from django.contrib import admin
from django.db import models as db_models

from training import models


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
