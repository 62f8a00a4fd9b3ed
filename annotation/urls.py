"""The HTML routes (the API routes are in annotation/api/urls.py)."""

from django.urls import path

from annotation.views import (
    account,
    items,
    label,
    label_edits,
    labelers,
    onboarding,
    projects,
    recruitment,
    report,
    review,
    written,
)

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
    path("label/<int:project_id>/previous/", label_edits.label_previous, name="label_previous"),
    path(
        "label/<int:project_id>/judgments/<int:judgment_id>/",
        label_edits.label_edit,
        name="label_edit",
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
    # Onboarding (labelers): recruitment links, consent, questionnaire, my information, finish.
    path("join/<str:token>/", onboarding.onboarding_join, name="onboarding_join"),
    path("onboarding/consent/", onboarding.onboarding_consent, name="onboarding_consent"),
    path(
        "onboarding/questionnaire/",
        onboarding.onboarding_questionnaire,
        name="onboarding_questionnaire",
    ),
    path("me/", onboarding.onboarding_me, name="onboarding_me"),
    path("me/withdraw/", onboarding.onboarding_withdraw, name="onboarding_withdraw"),
    path(
        "label/<int:project_id>/study/",
        onboarding.onboarding_finish_status,
        name="onboarding_finish_status",
    ),
    path("study/<int:arrival_id>/finish/", onboarding.onboarding_finish, name="onboarding_finish"),
    path(
        "study/<int:arrival_id>/finished/",
        onboarding.onboarding_finished,
        name="onboarding_finished",
    ),
    # Recruitment (admins): links, consent text, questionnaire, one labeler's audit trail.
    path("recruitment/", recruitment.recruitment_links, name="recruitment_links"),
    path(
        "recruitment/links/<int:link_id>/deactivate/",
        recruitment.recruitment_link_deactivate_view,
        name="recruitment_link_deactivate",
    ),
    path("recruitment/consent/", recruitment.recruitment_consent, name="recruitment_consent"),
    path(
        "recruitment/attributes/",
        recruitment.recruitment_attributes,
        name="recruitment_attributes",
    ),
    path(
        "recruitment/attributes/<int:definition_id>/",
        recruitment.recruitment_attribute_edit,
        name="recruitment_attribute_edit",
    ),
    path(
        "recruitment/attributes/<int:definition_id>/delete/",
        recruitment.recruitment_attribute_delete,
        name="recruitment_attribute_delete",
    ),
    path(
        "recruitment/labelers/<int:labeler_id>/",
        recruitment.recruitment_labeler,
        name="recruitment_labeler",
    ),
    path("projects/", projects.project_list, name="project_list"),
    path("projects/<int:project_id>/", projects.project_detail, name="project_detail"),
    path("projects/<int:project_id>/import/", projects.import_create, name="import_create"),
    path("projects/<int:project_id>/export/", projects.export_create, name="export_create"),
    path("projects/<int:project_id>/guidelines/", projects.guidelines_edit, name="guidelines_edit"),
    path("projects/<int:project_id>/settings/", projects.project_settings, name="project_settings"),
    path(
        "projects/<int:project_id>/archive/",
        projects.project_archive_toggle,
        name="project_archive",
    ),
    path("projects/<int:project_id>/clone/", projects.project_clone_create, name="project_clone"),
    path(
        "projects/<int:project_id>/delete/",
        projects.project_delete_confirm,
        name="project_delete",
    ),
    path("imports/<int:job_id>/", projects.import_detail, name="import_detail"),
    path("exports/<int:job_id>/download/", projects.export_download, name="export_download"),
    path("projects/<int:project_id>/access/", projects.project_access_edit, name="project_access"),
    path("labelers/", labelers.labeler_list, name="labeler_list"),
    path("labelers/<int:user_id>/", labelers.labeler_page, name="labeler_page"),
    path(
        "labelers/<int:user_id>/deactivate/",
        labelers.labeler_deactivate_view,
        name="labeler_deactivate",
    ),
    path(
        "labelers/<int:user_id>/reactivate/",
        labelers.labeler_reactivate_view,
        name="labeler_reactivate",
    ),
    path("groups/new/", labelers.group_create, name="group_create"),
    path("groups/preview/", labelers.group_preview_view, name="group_preview"),
    path("groups/<int:group_id>/", labelers.group_edit, name="group_edit"),
    path("groups/<int:group_id>/delete/", labelers.group_delete, name="group_delete"),
    path("groups/<int:group_id>/members/", labelers.group_member_add, name="group_member_add"),
    path(
        "groups/<int:group_id>/members/<int:user_id>/remove/",
        labelers.group_member_remove,
        name="group_member_remove",
    ),
    path("projects/<int:project_id>/report/", report.report_dashboard, name="report_dashboard"),
    path(
        "projects/<int:project_id>/report.csv",
        report.report_csv_download,
        name="report_csv",
    ),
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
    path("projects/<int:project_id>/write/", written.prompt_write, name="prompt_write"),
    path(
        "projects/<int:project_id>/written/", written.prompt_review_list, name="prompt_review_list"
    ),
    path(
        "projects/<int:project_id>/written/<int:written_id>/review/",
        written.prompt_review,
        name="prompt_review",
    ),
    path("review/<int:adjudication_id>/", review.review_item, name="review_item"),
]
