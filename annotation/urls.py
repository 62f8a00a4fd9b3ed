from django.urls import path

from annotation import views, views_label, views_report

app_name = "annotation"
urlpatterns = [
    path("", views.home, name="home"),
    path("label/", views.labeler_home, name="labeler_home"),
    path("label/<int:project_id>/", views_label.label_workbench, name="label_workbench"),
    path(
        "label/<int:project_id>/guidelines/", views_label.label_guidelines, name="label_guidelines"
    ),
    path(
        "label/<int:project_id>/guidelines/read/",
        views_label.label_guidelines_read,
        name="label_guidelines_read",
    ),
    path(
        "label/<int:project_id>/items/<int:item_id>/judgment/",
        views_label.label_submit,
        name="label_submit",
    ),
    path(
        "label/<int:project_id>/items/<int:item_id>/skip/",
        views_label.label_skip,
        name="label_skip",
    ),
    path("projects/", views.project_list, name="project_list"),
    path("projects/<int:project_id>/", views.project_detail, name="project_detail"),
    path("projects/<int:project_id>/import/", views.import_create, name="import_create"),
    path("projects/<int:project_id>/export/", views.export_create, name="export_create"),
    path("projects/<int:project_id>/guidelines/", views.guidelines_edit, name="guidelines_edit"),
    path("imports/<int:job_id>/", views.import_detail, name="import_detail"),
    path("exports/<int:job_id>/download/", views.export_download, name="export_download"),
    path("labelers/", views.labeler_list, name="labeler_list"),
    path(
        "projects/<int:project_id>/report/", views_report.report_dashboard, name="report_dashboard"
    ),
    path(
        "projects/<int:project_id>/report/recompute/",
        views_report.report_recompute,
        name="report_recompute",
    ),
    path(
        "projects/<int:project_id>/items/<int:item_id>/",
        views_report.report_item,
        name="report_item",
    ),
]
