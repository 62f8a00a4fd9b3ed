"""API of the training side."""

from django.urls import path

from training import api

urlpatterns = [
    path("runs/", api.RunListApi.as_view(), name="api-run-list"),
    path("runs/<int:run_id>/", api.RunDetailApi.as_view(), name="api-run-detail"),
    path("runs/<int:run_id>/cancel/", api.RunCancelApi.as_view(), name="api-run-cancel"),
    path("runs/<int:run_id>/artifacts/", api.RunArtifactsApi.as_view(), name="api-run-artifacts"),
]
