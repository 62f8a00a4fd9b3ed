"""HTML pages of the training side (runs)."""

from django.urls import path

from training import views

app_name = "training"
urlpatterns = [
    path("", views.run_list, name="run_list"),
    path("new/", views.run_new, name="run_new"),
    path("<int:run_id>/", views.run_detail, name="run_detail"),
    path("<int:run_id>/cancel/", views.run_cancel_view, name="run_cancel"),
    path("<int:run_id>/download/", views.run_download, name="run_download"),
]
