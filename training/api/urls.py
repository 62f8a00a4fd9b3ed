"""Routes of the training API (mounted at /api/training/)."""

from django.urls import path

from training.api import constitutions, evaluation, generation, inference, lineage, runs

urlpatterns = [
    path("runs/", runs.RunListApi.as_view(), name="api-run-list"),
    path("runs/estimate/", runs.RunEstimateApi.as_view(), name="api-run-estimate"),
    path("runs/<int:run_id>/", runs.RunDetailApi.as_view(), name="api-run-detail"),
    path("runs/<int:run_id>/cancel/", runs.RunCancelApi.as_view(), name="api-run-cancel"),
    path("runs/<int:run_id>/control/", runs.RunControlApi.as_view(), name="api-run-control"),
    path("runs/<int:run_id>/artifacts/", runs.RunArtifactsApi.as_view(), name="api-run-artifacts"),
    path("runs/<int:run_id>/lineage/", lineage.LineageApi.as_view(), name="api-run-lineage"),
    path(
        "generation-jobs/",
        generation.GenerationJobCreateApi.as_view(),
        name="api-generation-job-create",
    ),
    path(
        "generation-jobs/<int:job_id>/",
        generation.GenerationJobDetailApi.as_view(),
        name="api-generation-job-detail",
    ),
    path(
        "generation-jobs/<int:job_id>/cancel/",
        generation.GenerationJobCancelApi.as_view(),
        name="api-generation-job-cancel",
    ),
    path(
        "inference-endpoints/",
        generation.InferenceEndpointListApi.as_view(),
        name="api-inference-endpoint-list",
    ),
    path(
        "inference-sources/",
        inference.InferenceSourceListApi.as_view(),
        name="api-inference-source-list",
    ),
    path("replies/", inference.ReplyCreateApi.as_view(), name="api-reply-create"),
    path("replies/<uuid:reply_id>/", inference.ReplyDetailApi.as_view(), name="api-reply-detail"),
    path(
        "replies/<uuid:reply_id>/cancel/",
        inference.ReplyCancelApi.as_view(),
        name="api-reply-cancel",
    ),
    path("scoring-jobs/", generation.ScoringJobCreateApi.as_view(), name="api-scoring-job-create"),
    path("evaluations/", evaluation.EvaluationCreateApi.as_view(), name="api-evaluation-create"),
    path(
        "evaluations/<int:project_id>/report/",
        evaluation.EvaluationReportApi.as_view(),
        name="api-evaluation-report",
    ),
    path(
        "evaluations/<int:project_id>/reward-agreement/<int:run_id>/",
        evaluation.RewardAgreementApi.as_view(),
        name="api-reward-agreement",
    ),
    path(
        "constitutions/",
        constitutions.ConstitutionJobListApi.as_view(),
        name="api-constitution-list",
    ),
    path(
        "constitutions/<int:job_id>/",
        constitutions.ConstitutionJobDetailApi.as_view(),
        name="api-constitution-detail",
    ),
    path(
        "constitutions/<int:job_id>/cancel/",
        constitutions.ConstitutionJobCancelApi.as_view(),
        name="api-constitution-cancel",
    ),
]
