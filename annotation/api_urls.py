from django.urls import path

from annotation import api, api_label, api_report

urlpatterns = [
    path("projects/", api.ProjectListApi.as_view(), name="api-project-list"),
    path("projects/<int:project_id>/", api.ProjectDetailApi.as_view(), name="api-project-detail"),
    path(
        "projects/<int:project_id>/imports/",
        api.ImportCreateApi.as_view(),
        name="api-import-create",
    ),
    path(
        "projects/<int:project_id>/exports/",
        api.ExportCreateApi.as_view(),
        name="api-export-create",
    ),
    path(
        "projects/<int:project_id>/export-stream/",
        api.ExportStreamApi.as_view(),
        name="api-export-stream",
    ),
    path("imports/<int:job_id>/", api.ImportDetailApi.as_view(), name="api-import-detail"),
    path("exports/<int:job_id>/", api.ExportDetailApi.as_view(), name="api-export-detail"),
    path(
        "exports/<int:job_id>/download/",
        api.ExportDownloadApi.as_view(),
        name="api-export-download",
    ),
    path("labelers/", api.LabelerListApi.as_view(), name="api-labeler-list"),
    path("groups/", api.GroupListApi.as_view(), name="api-group-list"),
    path(
        "projects/<int:project_id>/report/",
        api_report.ReportDetailApi.as_view(),
        name="api-report-detail",
    ),
    path(
        "projects/<int:project_id>/report/recompute/",
        api_report.ReportRecomputeApi.as_view(),
        name="api-report-recompute",
    ),
    path(
        "projects/<int:project_id>/report/agreement/",
        api_report.ReportAgreementApi.as_view(),
        name="api-report-agreement",
    ),
    path(
        "projects/<int:project_id>/report/between/",
        api_report.ReportBetweenApi.as_view(),
        name="api-report-between",
    ),
    path(
        "projects/<int:project_id>/report/preferences/",
        api_report.ReportPreferencesApi.as_view(),
        name="api-report-preferences",
    ),
    path(
        "projects/<int:project_id>/report/contested/",
        api_report.ReportContestedApi.as_view(),
        name="api-report-contested",
    ),
    path(
        "projects/<int:project_id>/report/labelers/",
        api_report.ReportLabelersApi.as_view(),
        name="api-report-labelers",
    ),
    path(
        "projects/<int:project_id>/report/length-bias/",
        api_report.ReportLengthBiasApi.as_view(),
        name="api-report-length-bias",
    ),
    path(
        "projects/<int:project_id>/items/<int:item_id>/votes/",
        api_report.ItemVotesApi.as_view(),
        name="api-item-votes",
    ),
    path(
        "label/projects/<int:project_id>/next/",
        api_label.LabelNextApi.as_view(),
        name="api-label-next",
    ),
    path(
        "label/items/<int:item_id>/judgments/",
        api_label.JudgmentCreateApi.as_view(),
        name="api-label-judgment-create",
    ),
    path(
        "label/items/<int:item_id>/skips/",
        api_label.SkipCreateApi.as_view(),
        name="api-label-skip-create",
    ),
]
