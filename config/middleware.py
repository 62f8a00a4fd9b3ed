"""Operational middleware (issue 10, items 4 and 8 and the minor items).

- `HealthzLoopbackMiddleware` (first in MIDDLEWARE): `/healthz` asked from the machine itself
  (docker-compose's healthcheck, `curl localhost`) is answered before SecurityMiddleware's HTTPS
  redirect and before the ALLOWED_HOSTS check, which it could never pass over plain HTTP on
  `localhost`. From anywhere else it goes through the normal stack.
- `OutageMiddleware`: a database that is down (OperationalError, InterfaceError) or a broker
  that refuses a job (config.dispatch.BrokerUnavailable) is a 503 with Retry-After, JSON for
  API clients, a short page for browsers, never a 500.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse

from config.dispatch import BrokerUnavailable

logger = logging.getLogger(__name__)

RETRY_AFTER = "30"


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class HealthzLoopbackMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz" and is_loopback(request.META.get("REMOTE_ADDR", "")):
            from config.health import healthz

            return healthz(request)
        return self.get_response(request)


def wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return request.path.startswith("/api/") or (
        "application/json" in accept and "text/html" not in accept
    )


def unavailable(request: HttpRequest, what: str) -> HttpResponse:
    detail = f"The {what} is unavailable right now; nothing was changed. Try again shortly."
    if wants_json(request):
        response: HttpResponse = JsonResponse(
            {"detail": detail, "code": f"{what}_unavailable"}, status=503
        )
    else:
        response = HttpResponse(
            f"<!doctype html><title>Temporarily unavailable</title><h1>Temporarily unavailable</h1>"
            f"<p>{detail}</p>",
            status=503,
        )
    response["Retry-After"] = RETRY_AFTER
    return response


class OutageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, BrokerUnavailable):
            return unavailable(request, "job queue")
        if isinstance(exception, (OperationalError, InterfaceError)):
            logger.warning("database unavailable: %s", exception)
            for connection in connections.all(initialized_only=True):
                try:
                    connection.close_if_unusable_or_obsolete()
                except (OperationalError, InterfaceError):
                    pass  # still down; the next request reconnects
            return unavailable(request, "database")
        return None
