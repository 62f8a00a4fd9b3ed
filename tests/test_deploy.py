"""Deployment: production settings pass `check --deploy`, compose file is valid, demo seeds."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    ignored = {
        "DJANGO_SETTINGS_MODULE",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    }  # the latter is set by browser tests
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith("CHORUS_") and k not in ignored
    }
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING",
        CHORUS_SECRET_KEY="example-" + "x" * 60,  # a long example secret, as production reads from the env
        CHORUS_ALLOWED_HOSTS="chorus.example.org", CHORUS_VAR_DIR=str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_missing_secret_is_refused(tmp_path):
    result = run_manage("check", CHORUS_VAR_DIR=str(tmp_path))
    assert result.returncode != 0 and "CHORUS_SECRET_KEY is not set" in result.stderr


def test_the_example_placeholder_secret_is_refused(tmp_path):
    """Copying .env.example as it is must not start a site with a secret everyone knows."""
    example = (ROOT / ".env.example").read_text()
    placeholder = next(
        line.split("=", 1)[1]
        for line in example.splitlines()
        if line.startswith("CHORUS_SECRET_KEY=")
    )
    result = run_manage("check", CHORUS_SECRET_KEY=placeholder, CHORUS_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "CHORUS_SECRET_KEY" in result.stderr


def test_defaults_are_safe(tmp_path):
    result = run_manage(
        "shell", "-c", "from django.conf import settings as s; print(s.DEBUG, s.ALLOWED_HOSTS, s.SESSION_COOKIE_SECURE)",
        CHORUS_SECRET_KEY="x" * 60, CHORUS_VAR_DIR=str(tmp_path),
    )  # fmt: skip
    assert result.stdout.strip().splitlines()[-1] == "False [] True"


def test_compose_file_is_valid_and_uses_the_tested_commands():
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = spec["services"]
    assert set(services) == {"web", "worker", "inference", "beat", "db", "redis"}
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    for worker in ("worker", "inference"):
        assert "--beat" not in services[worker]["command"]  # exactly one scheduler
    inference = services["inference"]["command"]
    assert inference[inference.index("-Q") + 1] == "inference"  # settings.CHORUS_INFERENCE_QUEUE
    assert inference[inference.index("--pool") + 1] == "threads"  # models shared by its replies
    for name in services:
        assert "healthcheck" in services[name], name
    assert "gunicorn config.wsgi" in " ".join(services["web"]["command"])
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.skip(
            "docker-compose (Debian package) is not installed; the YAML checks above still ran"
        )
    env_file = ROOT / ".env"
    created = not env_file.exists()
    if created:
        shutil.copy(ROOT / ".env.example", env_file)
    try:
        result = subprocess.run(
            [compose, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
    finally:
        if created:
            env_file.unlink()
    assert result.returncode == 0, result.stderr


def test_the_image_runs_as_a_non_root_user_without_local_files():
    """Issue 10 (2): the last USER of the Dockerfile is not root; var/ is writable to it; the
    build context leaves out environments, data, history and test output."""
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any("chown" in line and "/app/var" in line for line in lines)
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", ".git", "var/", "test-artifacts/", ".env"} <= ignored


@pytest.mark.django_db
def test_demo_seed_is_idempotent_and_has_every_role():
    from django.contrib.auth import get_user_model

    from annotation.models import Item, Judgment, Project
    from annotation.roles import role_of
    from annotation.services.demo import demo_seed

    demo_seed()
    counts = (Project.objects.count(), Item.objects.count(), Judgment.objects.count())
    demo_seed()
    assert counts == (Project.objects.count(), Item.objects.count(), Judgment.objects.count())
    users = get_user_model().objects
    assert {role_of(users.get(username=n)) for n in ("admin", "researcher", "labeler1")} == {
        "admin",
        "researcher",
        "labeler",
    }
    assert Item.objects.filter(project__kind="ranking").count() == 6


@pytest.mark.django_db
def test_demo_report_singles_out_the_simulated_contested_block(admin_user):
    """The demo's older group flips on items 24–35 of the pairwise project; the report finds them."""
    from annotation.models import Item, Project
    from annotation.services.demo import demo_seed
    from annotation.services.reports import project_report_compute, project_report_request

    demo_seed()
    project = Project.objects.get(name="HH harmlessness (pairwise)")
    report = project_report_request(project=project, requested_by=admin_user)
    project_report_compute(report_id=report.pk)
    report.refresh_from_db()
    flagged = {row["item_id"] for row in report.payload["contested"]["items"] if row["significant"]}
    block = set(
        Item.objects.filter(project=project).order_by("pk").values_list("pk", flat=True)[24:36]
    )
    assert flagged and flagged <= block
    assert len(flagged) >= 5  # 6 vs 6 votes at 85% consistency: about half reach q <= 0.05
