"""/healthz and outages under the production settings (issue 10, item 8 and the minor items).

Before: docker-compose's healthcheck (`urlopen('http://localhost:8000/healthz')`) was redirected
to https and then refused by ALLOWED_HOSTS, so it could never pass; a database outage answered
API clients with an HTML 500 and /healthz with a 500.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["chorus.example.org"]


def test_healthz_from_loopback_skips_https_redirect_and_host_check(db, production):
    response = Client(REMOTE_ADDR="127.0.0.1").get("/healthz", HTTP_HOST="localhost:8000")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_from_elsewhere_still_goes_through_the_security_stack(db, production):
    response = Client(REMOTE_ADDR="203.0.113.9").get("/healthz", HTTP_HOST="chorus.example.org")
    assert response.status_code == 301 and response["Location"].startswith("https://")


@pytest.fixture
def database_down(db):
    """Call it to take the database down; undone before the test database is rolled back."""
    patch = pytest.MonkeyPatch()

    def refuse(self):  # noqa: ANN001
        raise OperationalError("connection to server at 127.0.0.1 refused")

    yield lambda: patch.setattr(BaseDatabaseWrapper, "ensure_connection", refuse)
    patch.undo()


def test_healthz_names_the_dependency_that_is_down(db, production, database_down):
    database_down()
    response = Client(REMOTE_ADDR="::1").get("/healthz", HTTP_HOST="localhost")
    assert response.status_code == 503 and response["Retry-After"]
    assert response.json()["database"].startswith("down") and response.json()["broker"] == "ok"


def test_a_database_outage_is_a_json_503_for_api_clients(db, researcher, production, database_down):
    client = Client(REMOTE_ADDR="203.0.113.9")
    client.force_login(researcher)
    database_down()
    response = client.get("/api/projects/", HTTP_HOST="chorus.example.org", secure=True)
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json" and response["Retry-After"]
    assert "database" in response.json()["detail"]


def test_persistent_connections_are_health_checked():
    from django.conf import settings

    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_the_compose_healthcheck_command_passes_against_production_settings(tmp_path):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["web"]["healthcheck"]["test"]
    assert command[:2] == ["CMD", "python"]
    port = _free_port()
    argv = [sys.executable, *command[2:]]
    argv[-1] = argv[-1].replace("localhost:8000", f"localhost:{port}")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CHORUS_DEBUG": "0",
        "CHORUS_SECRET_KEY": "a-production-like-secret-for-this-test-only",
        "CHORUS_ALLOWED_HOSTS": "chorus.example.org",
        "CHORUS_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "",
    }
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline, result = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=10)
            if result.returncode == 0 or "Connection refused" not in result.stderr:
                break
            time.sleep(0.2)
        assert result is not None and result.returncode == 0, result.stderr[-2000:]
    finally:
        web.terminate()
        web.communicate(timeout=30)
