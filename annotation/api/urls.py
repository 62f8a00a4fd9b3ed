"""The API routes, mounted at /api/ by config/urls.py."""

from django.urls import path

from annotation.api import (
    external_labelers,
    items,
    label,
    label_edits,
    labelers,
    lifecycle,
    projects,
    report,
)

urlpatterns = [
    path("projects/<int:project_id>/items/", items.ItemListApi.as_view(), name="api-item-list"),
    path(
        "projects/<int:project_id>/items/bulk/", items.ItemBulkApi.as_view(), name="api-item-bulk"
    ),
    path(
        "projects/<int:project_id>/adjudications/",
        items.AdjudicationListApi.as_view(),
        name="api-adjudication-list",
    ),
    path(
        "adjudications/<int:adjudication_id>/",
        items.AdjudicationDetailApi.as_view(),
        name="api-adjudication-detail",
    ),
    path(
        "adjudications/<int:adjudication_id>/decide/",
        items.AdjudicationDecideApi.as_view(),
        name="api-adjudication-decide",
    ),
    path("projects/", projects.ProjectListApi.as_view(), name="api-project-list"),
    path(
        "projects/<int:project_id>/", projects.ProjectDetailApi.as_view(), name="api-project-detail"
    ),
    path(
        "projects/<int:project_id>/archive/",
        lifecycle.ProjectArchiveApi.as_view(),
        name="api-project-archive",
    ),
    path(
        "projects/<int:project_id>/unarchive/",
        lifecycle.ProjectUnarchiveApi.as_view(),
        name="api-project-unarchive",
    ),
    path(
        "projects/<int:project_id>/clone/",
        lifecycle.ProjectCloneApi.as_view(),
        name="api-project-clone",
    ),
    path(
        "projects/<int:project_id>/imports/",
        projects.ImportCreateApi.as_view(),
        name="api-import-create",
    ),
    path(
        "projects/<int:project_id>/exports/",
        projects.ExportCreateApi.as_view(),
        name="api-export-create",
    ),
    path(
        "projects/<int:project_id>/export-stream/",
        projects.ExportStreamApi.as_view(),
        name="api-export-stream",
    ),
    path("imports/<int:job_id>/", projects.ImportDetailApi.as_view(), name="api-import-detail"),
    path("exports/<int:job_id>/", projects.ExportDetailApi.as_view(), name="api-export-detail"),
    path(
        "exports/<int:job_id>/download/",
        projects.ExportDownloadApi.as_view(),
        name="api-export-download",
    ),
    path(
        "projects/<int:project_id>/access/",
        labelers.ProjectAccessApi.as_view(),
        name="api-project-access",
    ),
    path("labelers/", labelers.LabelerListApi.as_view(), name="api-labeler-list"),
    path(
        "labelers/<int:user_id>/deactivate/",
        labelers.LabelerDeactivateApi.as_view(),
        name="api-labeler-deactivate",
    ),
    path(
        "labelers/<int:user_id>/reactivate/",
        labelers.LabelerReactivateApi.as_view(),
        name="api-labeler-reactivate",
    ),
    path("groups/", labelers.GroupListApi.as_view(), name="api-group-list"),
    path("groups/preview/", labelers.GroupPreviewApi.as_view(), name="api-group-preview"),
    path("groups/<int:group_id>/", labelers.GroupDetailApi.as_view(), name="api-group-detail"),
    path(
        "projects/<int:project_id>/external-labelers/",
        external_labelers.ExternalLabelerListApi.as_view(),
        name="api-external-labeler-list",
    ),
    path(
        "projects/<int:project_id>/report/",
        report.ReportDetailApi.as_view(),
        name="api-report-detail",
    ),
    path(
        "projects/<int:project_id>/report/recompute/",
        report.ReportRecomputeApi.as_view(),
        name="api-report-recompute",
    ),
    path(
        "projects/<int:project_id>/report/agreement/",
        report.ReportAgreementApi.as_view(),
        name="api-report-agreement",
    ),
    path(
        "projects/<int:project_id>/report/between/",
        report.ReportBetweenApi.as_view(),
        name="api-report-between",
    ),
    path(
        "projects/<int:project_id>/report/preferences/",
        report.ReportPreferencesApi.as_view(),
        name="api-report-preferences",
    ),
    path(
        "projects/<int:project_id>/report/contested/",
        report.ReportContestedApi.as_view(),
        name="api-report-contested",
    ),
    path(
        "projects/<int:project_id>/report/labelers/",
        report.ReportLabelersApi.as_view(),
        name="api-report-labelers",
    ),
    path(
        "projects/<int:project_id>/report/length-bias/",
        report.ReportLengthBiasApi.as_view(),
        name="api-report-length-bias",
    ),
    path(
        "projects/<int:project_id>/items/<int:item_id>/votes/",
        report.ItemVotesApi.as_view(),
        name="api-item-votes",
    ),
    path(
        "label/projects/<int:project_id>/next/",
        label.LabelNextApi.as_view(),
        name="api-label-next",
    ),
    path(
        "label/items/<int:item_id>/judgments/",
        label.JudgmentCreateApi.as_view(),
        name="api-label-judgment-create",
    ),
    path(
        "label/projects/<int:project_id>/judgments/",
        label_edits.LabelRecentJudgmentsApi.as_view(),
        name="api-label-judgment-recent",
    ),
    path(
        "label/judgments/<int:judgment_id>/",
        label_edits.LabelJudgmentDetailApi.as_view(),
        name="api-label-judgment-detail",
    ),
    path(
        "label/items/<int:item_id>/skips/",
        label.SkipCreateApi.as_view(),
        name="api-label-skip-create",
    ),
]
