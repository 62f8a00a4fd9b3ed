"""Content-Security-Policy on every response: the policy is `settings.CHORUS_CSP`.

Scripts come only from our static files; templates hold no inline scripts or `on*=` handlers
(tests/browser fail on any CSP violation). A view that already set the header keeps its own.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.CHORUS_CSP:
            response.headers.setdefault("Content-Security-Policy", settings.CHORUS_CSP)
        return response
