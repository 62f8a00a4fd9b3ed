"""The login, logout and password routes. Password reset sends mail, so its pages exist only
when outgoing mail is configured (CHORUS_EMAIL_HOST); otherwise they answer 404."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import urls as auth_urls
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path

RESET_VIEWS = {
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
}


def email_configured() -> bool:
    return bool(settings.CHORUS_EMAIL_HOST)


def _needs_email(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not email_configured():
            raise Http404("Password reset is not available: no mail server is configured.")
        return view(request, *args, **kwargs)

    return wrapped


def password_reset(request: HttpRequest) -> dict[str, bool]:
    """Context processor: whether to offer the "forgot your password?" link."""
    return {"password_reset_available": email_configured()}


def _route(pattern: URLPattern) -> URLPattern:
    view = _needs_email(pattern.callback) if pattern.name in RESET_VIEWS else pattern.callback
    return path(str(pattern.pattern), view, name=pattern.name)


urlpatterns = [_route(p) for p in auth_urls.urlpatterns if isinstance(p, URLPattern)]
