from django.urls import path

from annotation import views

app_name = "annotation"
urlpatterns = [
    path("", views.home, name="home"),
    path("label/", views.labeler_home, name="labeler_home"),
    path("projects/", views.project_list, name="project_list"),
    path("projects/<int:project_id>/", views.project_detail, name="project_detail"),
    path("projects/<int:project_id>/import/", views.import_create, name="import_create"),
    path("projects/<int:project_id>/export/", views.export_create, name="export_create"),
    path("projects/<int:project_id>/guidelines/", views.guidelines_edit, name="guidelines_edit"),
    path("imports/<int:job_id>/", views.import_detail, name="import_detail"),
    path("exports/<int:job_id>/download/", views.export_download, name="export_download"),
    path("labelers/", views.labeler_list, name="labeler_list"),
]
