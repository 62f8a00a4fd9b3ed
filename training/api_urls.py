"""API of the training side."""

from django.urls import path

from training import api, api_loop

urlpatterns = [
    path("runs/", api.RunListApi.as_view(), name="api-run-list"),
    path("runs/<int:run_id>/", api.RunDetailApi.as_view(), name="api-run-detail"),
    path("runs/<int:run_id>/cancel/", api.RunCancelApi.as_view(), name="api-run-cancel"),
    path("runs/<int:run_id>/artifacts/", api.RunArtifactsApi.as_view(), name="api-run-artifacts"),
    path("runs/<int:run_id>/lineage/", api_loop.LineageApi.as_view(), name="api-run-lineage"),
    path(
        "generation-jobs/",
        api_loop.GenerationJobCreateApi.as_view(),
        name="api-generation-job-create",
    ),
    path(
        "generation-jobs/<int:job_id>/",
        api_loop.GenerationJobDetailApi.as_view(),
        name="api-generation-job-detail",
    ),
    path(
        "generation-jobs/<int:job_id>/cancel/",
        api_loop.GenerationJobCancelApi.as_view(),
        name="api-generation-job-cancel",
    ),
    path("scoring-jobs/", api_loop.ScoringJobCreateApi.as_view(), name="api-scoring-job-create"),
    path("evaluations/", api_loop.EvaluationCreateApi.as_view(), name="api-evaluation-create"),
    path(
        "evaluations/<int:project_id>/report/",
        api_loop.EvaluationReportApi.as_view(),
        name="api-evaluation-report",
    ),
    path(
        "evaluations/<int:project_id>/reward-agreement/<int:run_id>/",
        api_loop.RewardAgreementApi.as_view(),
        name="api-reward-agreement",
    ),
]
