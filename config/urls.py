from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.api import ApiDocsPermission
from config.health import healthz
from training.views.inference import reply_events

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("django-admin/", admin.site.urls),
    path("accounts/", include("config.accounts")),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(permission_classes=[ApiDocsPermission]),
        name="schema",
    ),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="schema", permission_classes=[ApiDocsPermission]
        ),
        name="api-docs",
    ),
    path("api/", include("annotation.api.urls")),
    path("api/training/", include("training.api.urls")),
    path("training/", include("training.urls")),
    # A live reply's tokens as server-sent events (training/views/inference.py).
    path("live/replies/<uuid:reply_id>/events", reply_events, name="reply_events"),
    path("", include("annotation.urls")),
]

handler404 = "config.api.page_not_found"  # unknown /api/ URLs: a JSON 404, not the HTML page
