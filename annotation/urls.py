"""The HTML routes (the API routes are in annotation/api/urls.py)."""

from django.urls import path

from annotation.views import account, items, label, projects, report, review

app_name = "annotation"
urlpatterns = [
    path("", projects.home, name="home"),
    path("account/token/", account.account_token, name="account_token"),
    path("label/", label.labeler_home, name="labeler_home"),
    path("label/<int:project_id>/", label.label_workbench, name="label_workbench"),
    path("label/<int:project_id>/guidelines/", label.label_guidelines, name="label_guidelines"),
    path(
        "label/<int:project_id>/guidelines/read/",
        label.label_guidelines_read,
        name="label_guidelines_read",
    ),
    path(
        "label/<int:project_id>/items/<int:item_id>/judgment/",
        label.label_submit,
        name="label_submit",
    ),
    path(
        "label/<int:project_id>/items/<int:item_id>/<str:part>/<int:number>/text/",
        label.label_text,
        name="label_text",
    ),
    path(
        "label/<int:project_id>/items/<int:item_id>/skip/",
        label.label_skip,
        name="label_skip",
    ),
    path("projects/", projects.project_list, name="project_list"),
    path("projects/<int:project_id>/", projects.project_detail, name="project_detail"),
    path("projects/<int:project_id>/import/", projects.import_create, name="import_create"),
    path("projects/<int:project_id>/export/", projects.export_create, name="export_create"),
    path("projects/<int:project_id>/guidelines/", projects.guidelines_edit, name="guidelines_edit"),
    path("imports/<int:job_id>/", projects.import_detail, name="import_detail"),
    path("exports/<int:job_id>/download/", projects.export_download, name="export_download"),
    path("labelers/", projects.labeler_list, name="labeler_list"),
    path("projects/<int:project_id>/report/", report.report_dashboard, name="report_dashboard"),
    path(
        "projects/<int:project_id>/report/recompute/",
        report.report_recompute,
        name="report_recompute",
    ),
    path(
        "projects/<int:project_id>/items/<int:item_id>/",
        report.report_item,
        name="report_item",
    ),
    path("projects/<int:project_id>/items/", items.item_browser, name="item_browser"),
    path("projects/<int:project_id>/items/bulk/", items.item_bulk, name="item_bulk"),
    path("projects/<int:project_id>/items/count/", items.item_count, name="item_count"),
    path("projects/<int:project_id>/review/", review.review_queue, name="review_queue"),
    path("projects/<int:project_id>/review/use/", review.review_use, name="review_use"),
    path("review/", review.review_mine, name="review_mine"),
    path("review/<int:adjudication_id>/", review.review_item, name="review_item"),
]
