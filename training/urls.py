"""HTML pages of the training side (runs)."""

from django.urls import path

from training import views, views_loop

app_name = "training"
urlpatterns = [
    path("", views.run_list, name="run_list"),
    path("new/", views.run_new, name="run_new"),
    path("<int:run_id>/", views.run_detail, name="run_detail"),
    path("<int:run_id>/cancel/", views.run_cancel_view, name="run_cancel"),
    path("<int:run_id>/download/", views.run_download, name="run_download"),
    path("<int:run_id>/lineage/", views_loop.loop_lineage, name="loop_lineage"),
    path("loop/", views_loop.loop_index, name="loop_index"),
    path("loop/jobs/new/", views_loop.loop_job_new, name="loop_job_new"),
    path("loop/evaluations/new/", views_loop.loop_evaluation_new, name="loop_evaluation_new"),
    path("loop/scoring/new/", views_loop.loop_scoring_new, name="loop_scoring_new"),
    path("loop/jobs/<int:job_id>/", views_loop.loop_job, name="loop_job"),
    path("loop/jobs/<int:job_id>/cancel/", views_loop.loop_job_cancel, name="loop_job_cancel"),
    path("loop/projects/<int:project_id>/", views_loop.loop_report, name="loop_report"),
]
