from django.urls import path

from annotation import api

urlpatterns = [
    path("projects/", api.ProjectListApi.as_view(), name="api-project-list"),
    path("projects/<int:project_id>/", api.ProjectDetailApi.as_view(), name="api-project-detail"),
    path("projects/<int:project_id>/imports/", api.ImportCreateApi.as_view(), name="api-import-create"),
    path("projects/<int:project_id>/exports/", api.ExportCreateApi.as_view(), name="api-export-create"),
    path("projects/<int:project_id>/export-stream/", api.ExportStreamApi.as_view(), name="api-export-stream"),
    path("imports/<int:job_id>/", api.ImportDetailApi.as_view(), name="api-import-detail"),
    path("exports/<int:job_id>/", api.ExportDetailApi.as_view(), name="api-export-detail"),
    path("exports/<int:job_id>/download/", api.ExportDownloadApi.as_view(), name="api-export-download"),
    path("labelers/", api.LabelerListApi.as_view(), name="api-labeler-list"),
    path("groups/", api.GroupListApi.as_view(), name="api-group-list"),
]
