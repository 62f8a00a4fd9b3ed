"""The login, logout and password routes. Password reset sends mail, so its pages exist only
when outgoing mail is configured (CHORUS_EMAIL_HOST); otherwise they answer 404."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import urls as auth_urls
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
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


class LoginForm(AuthenticationForm):
    """The login form, saying so when the right password belongs to a deactivated account
    (an admin deactivated the labeler: annotation.services.labelers.labeler_deactivate) rather
    than that the password is wrong. Authentication still refuses inactive users."""

    def get_invalid_login_error(self) -> ValidationError:
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        user = get_user_model().objects.filter(username=username, is_active=False).first()
        if user is not None and password and user.check_password(password):
            return ValidationError(
                "This account has been deactivated: you can no longer log in or label. Your "
                "past work is kept. Ask the project's admin if you think this is a mistake.",
                code="inactive",
            )
        return super().get_invalid_login_error()


def _route(pattern: URLPattern) -> URLPattern:
    if pattern.name == "login":
        view: Any = auth_views.LoginView.as_view(authentication_form=LoginForm)
    elif pattern.name in RESET_VIEWS:
        view = _needs_email(pattern.callback)
    else:
        view = pattern.callback
    return path(str(pattern.pattern), view, name=pattern.name)


urlpatterns = [_route(p) for p in auth_urls.urlpatterns if isinstance(p, URLPattern)]
