"""`/healthz`: each dependency's state, 200 when all answer, 503 + Retry-After when one does not.

Answered before the HTTPS redirect and host check for loopback requests
(config.middleware.HealthzLoopbackMiddleware), so docker-compose's healthcheck can pass.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        try:
            connection.close_if_unusable_or_obsolete()
        except Exception:
            pass  # still down; the next request reconnects
        return f"down: {type(exc).__name__}"
    return "ok"


def _broker() -> str:
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"down: {type(exc).__name__}"
    return "ok"


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and docker-compose: the app answers and reaches its dependencies."""
    checks = {"database": _database(), "broker": _broker()}
    ok = all(state == "ok" for state in checks.values())
    response = JsonResponse(
        {"status": "ok" if ok else "unavailable", **checks}, status=200 if ok else 503
    )
    if not ok:
        response["Retry-After"] = "30"
    response["Cache-Control"] = "no-store"
    return response
