"""Label Studio beside Chorus in bench_label_load.py (issue 14): same tasks, same labelers.

Label Studio is started from its own virtualenv when one is given (--label-studio-venv, or the
LABEL_STUDIO_VENV environment variable) and skipped otherwise; it never enters Chorus's
dependencies. Make one with:

    python3.11 -m venv ../label-studio-venv && ../label-studio-venv/bin/pip install label-studio==1.23.2 gunicorn

It runs as Chorus does here: gunicorn with the same workers, DEBUG off, on the same kind of
database: a PostgreSQL database named after Chorus's with `_ls` appended (DROPPED and made
again), or a SQLite file. Label Studio keeps its own connection settings, a new PostgreSQL
connection per request: those backends' CPU is counted from the postmaster's reaped children.
Its log goes to label-studio.log in the bench's temporary folder. A setup process inside that
virtualenv migrates it and makes one organisation, an admin and the labelers with their API
tokens; the project (a pairwise choice
on the 8-point scale, two 1–7 ratings and a rationale, overlap 3 as `maximum_annotations`) and
its tasks (the same texts as Chorus's items) go in through Label Studio's public API.

Each labeler loops GET /api/projects/<id>/next (the label stream's next task) and POST
/api/tasks/<id>/annotations/; the same fraction of submissions as Chorus's is sent twice, as a
browser retry would. Label Studio has no client key, so a resend is stored again: the final
check counts those as duplicated (the same labeler twice on a task), with lost (acknowledged,
not stored), items over overlap and count drift (`task.total_annotations` against the rows).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from _load import (
    RATIONALE,
    TEXT,
    Client,
    System,
    Tally,
    _children,
    _free_port,
    _postgres_backends,
    _reaped_cpu_seconds,
    _recreate_postgres,
    _start_gunicorn,
    _vacuum_analyze,
)

PASSWORD = "bench-password"
CHOICES = [
    "A is much better", "A is better", "A is slightly better", "A is marginally better",
    "B is marginally better", "B is slightly better", "B is better", "B is much better",
]  # fmt: skip
LABEL_CONFIG = (
    '<View><Text name="prompt" value="$prompt"/><Text name="a" value="$a"/>'
    '<Text name="b" value="$b"/><Choices name="choice" toName="prompt" required="true">'
    + "".join(f'<Choice value="{c}"/>' for c in CHOICES)
    + '</Choices><Rating name="help_a" toName="a" maxRating="7"/>'
    '<Rating name="help_b" toName="b" maxRating="7"/>'
    '<TextArea name="rationale" toName="prompt"/></View>'
)

# Run by the virtualenv's Python with Label Studio's settings: migrate, then the organisation,
# the admin and the labelers; prints their tokens as JSON.
SETUP = """
import json, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from organizations.models import Organization
from rest_framework.authtoken.models import Token
from users.models import User

def user(email, password):
    person = User.objects.create_user(email=email, password=password)
    return person

admin = user("admin@bench.local", sys.argv[2])
admin.is_staff = admin.is_superuser = True
admin.save()
org = Organization.create_organization(
    created_by=admin, title="Bench", legacy_api_tokens_enabled=True
)
people = [admin] + [user(f"bench{i}@bench.local", sys.argv[2]) for i in range(int(sys.argv[1]))]
for person in people:
    if person is not admin:
        org.add_user(person)
    person.active_organization = org
    person.save(update_fields=["active_organization"])
keys = [Token.objects.get_or_create(user=p)[0].key for p in people]
print(json.dumps({"admin": keys[0], "labelers": keys[1:]}))
"""


def venv_python(args: Any) -> Path | None:
    """The Label Studio virtualenv's Python, or None (then Label Studio is skipped)."""
    venv = args.label_studio_venv or os.environ.get("LABEL_STUDIO_VENV", "")
    python = Path(venv) / "bin" / "python"
    if not venv or not python.exists():
        return None
    found = subprocess.run(
        [str(python), "-c", "import label_studio, gunicorn; print(label_studio.__file__)"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return python if found.returncode == 0 else None


def _package_dir(python: Path) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import label_studio; print(label_studio.__file__)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return Path(out.stdout.strip()).parent


def environment(database: str, chorus_url: str, var: Path) -> dict[str, str]:
    """Label Studio's settings through its environment variables, like Chorus's."""
    data = var / "label-studio"
    data.mkdir(exist_ok=True)
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "core.settings.label_studio", "DEBUG": "false",
        "LABEL_STUDIO_BASE_DATA_DIR": str(data), "LOG_LEVEL": "WARNING",
        "SECRET_KEY": "bench-" + os.urandom(16).hex(), "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": "",  # nothing sent to the outside:
        "LATEST_VERSION_CHECK": "false",  # no error reports, no version check on PyPI
    }  # fmt: skip
    if database == "sqlite":
        env.update(DJANGO_DB="sqlite", DATABASE_NAME=str(data / "label_studio.sqlite3"))
        return env
    url = urlparse(chorus_url)
    env.update(
        DJANGO_DB="default", POSTGRE_NAME=url.path.lstrip("/") + "_ls", POSTGRE_USER=url.username or "postgres",
        POSTGRE_PASSWORD=url.password or "", POSTGRE_HOST=url.hostname or "127.0.0.1",
        POSTGRE_PORT=str(url.port or 5432),
    )  # fmt: skip
    return env


def database_url(env: dict[str, str]) -> str | None:
    """The PostgreSQL URL of Label Studio's database (None on SQLite)."""
    if env["DJANGO_DB"] == "sqlite":
        return None
    auth = env["POSTGRE_USER"] + (f":{env['POSTGRE_PASSWORD']}" if env["POSTGRE_PASSWORD"] else "")
    return f"postgres://{auth}@{env['POSTGRE_HOST']}:{env['POSTGRE_PORT']}/{env['POSTGRE_NAME']}"


def setup(python: Path, env: dict[str, str], labelers: int) -> dict[str, Any]:
    """Migrate Label Studio's database and make its users; their tokens."""
    cwd = _package_dir(python)
    out = subprocess.run(
        [str(python), "-c", SETUP, str(labelers), PASSWORD],
        cwd=cwd, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"Label Studio setup failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def server_argv(python: Path, port: int, workers: int) -> tuple[list[str], Path]:
    """gunicorn serving Label Studio's WSGI app, and the folder to start it in."""
    argv = [
        str(python), "-m", "gunicorn", "core.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--log-level", "warning", "--timeout", "120",
    ]  # fmt: skip
    return argv, _package_dir(python)


def project_create(call: Any, texts: list[tuple[str, str, str]]) -> int:
    """The pairwise project and its tasks, through the API as the admin."""
    status, data = call(
        "POST", "/api/projects/",
        {"title": "Bench", "label_config": LABEL_CONFIG, "maximum_annotations": 3,
         "overlap_cohort_percentage": 100, "show_skip_button": False},
    )  # fmt: skip
    if status != 201:
        raise SystemExit(f"Label Studio project: {status} {data[:300]!r}")
    project = json.loads(data)["id"]
    for start in range(0, len(texts), 2000):
        tasks = [{"prompt": p, "a": a, "b": b} for p, a, b in texts[start : start + 2000]]
        status, data = call("POST", f"/api/projects/{project}/import", tasks)
        if status != 201:
            raise SystemExit(f"Label Studio import: {status} {data[:300]!r}")
    return project


def annotation(rng: random.Random, rationale: str, project: int) -> bytes:
    """What the labeling interface posts for one judgment: choice, two ratings, rationale."""
    result = [
        {"from_name": "choice", "to_name": "prompt", "type": "choices",
         "value": {"choices": [rng.choice(CHOICES)]}},
        *({"from_name": f"help_{side}", "to_name": side, "type": "rating",
           "value": {"rating": rng.randint(1, 7)}} for side in "ab"),
        {"from_name": "rationale", "to_name": "prompt", "type": "textarea",
         "value": {"text": [rationale]}},
    ]  # fmt: skip
    body = {"result": result, "lead_time": round(rng.uniform(5, 60), 1), "project": project}
    return json.dumps(body).encode()


_CHECK = {
    "ids": "SELECT id FROM task_completion WHERE project_id = {p}",
    "duplicated": """SELECT COUNT(*) FROM (SELECT task_id FROM task_completion
        WHERE project_id = {p} GROUP BY task_id, completed_by_id HAVING COUNT(*) > 1) d""",
    "over_overlap": """SELECT COUNT(*) FROM (SELECT task_id FROM task_completion
        WHERE project_id = {p} GROUP BY task_id HAVING COUNT(*) > 3) o""",
    "count_drift": """SELECT COUNT(*) FROM task t WHERE t.project_id = {p} AND t.total_annotations
        <> (SELECT COUNT(*) FROM task_completion c WHERE c.task_id = t.id
            AND NOT c.was_cancelled)""",
}


def verify(env: dict[str, str], project: int, acknowledged: set[str]) -> dict[str, int]:
    """The same final check as Chorus's, on Label Studio's tables."""
    url = database_url(env)
    if url is None:
        with sqlite3.connect(env["DATABASE_NAME"]) as conn:
            found = {k: conn.execute(sql.format(p=project)).fetchall() for k, sql in _CHECK.items()}
    else:
        import psycopg

        with psycopg.connect(url) as conn:
            found = {k: conn.execute(sql.format(p=project)).fetchall() for k, sql in _CHECK.items()}  # type: ignore[arg-type]
    stored = {str(row[0]) for row in found["ids"]}
    return {
        "lost": len(acknowledged - stored),
        "extra": len(stored - acknowledged),
        **{k: int(found[k][0][0]) for k in ("duplicated", "over_overlap", "count_drift")},
    }


class LabelStudioLabeler(Client):
    """A Label Studio labeler: the label stream's next task, then the annotation (its token)."""

    def __init__(self, port: int, project: int, token: str, retry: float):
        super().__init__(port, {"Authorization": f"Token {token}"}, retry)
        self.project_id = project

    def one(self, tally: Tally, record: bool) -> bool:
        path = f"/api/projects/{self.project_id}/next"
        status, data = self.request(tally, record, "GET", path, None, "")
        if status == 404:
            return False  # no task left for this labeler
        if status != 200:
            return self.error(tally, f"next {status} {data[:200]!r}")
        task = json.loads(data)["id"]
        body = annotation(self.rng, RATIONALE, self.project_id)
        for attempt in range(self.sends()):
            path = f"/api/tasks/{task}/annotations/?project={self.project_id}"
            status, data = self.request(tally, record, "POST", path, body, "application/json")
            if status != 201:
                return self.error(tally, f"submit {status} {data[:200]!r}")
            self.acknowledged.add(str(json.loads(data)["id"]))  # a resend is stored again
            if attempt == 0:
                tally.created += 1
            else:
                tally.replayed += 1
        return True


def label_studio_system(
    args: argparse.Namespace, chorus_db: str, var: Path, labelers: int
) -> tuple[System, subprocess.Popen[bytes]] | None:
    """Label Studio on the same kind of database with the same tasks, or None (not installed)."""
    python = venv_python(args)
    if python is None:
        print("Label Studio: skipped (no --label-studio-venv / LABEL_STUDIO_VENV with it)")
        return None
    env = environment(args.database, chorus_db, var)
    ls_db = database_url(env)
    if ls_db:
        _recreate_postgres(ls_db)
    print("Label Studio: migrating and making its users ...", flush=True)
    tokens = setup(python, env, labelers)
    port = _free_port()
    argv, cwd = server_argv(python, port, args.workers)
    server = _start_gunicorn(argv, env, port, cwd, "/user/login/", var / "label-studio.log")
    admin = Client(port, {"Authorization": f"Token {tokens['admin']}"}, 0)

    def call(method: str, path: str, payload: Any) -> tuple[int, bytes]:
        body = None if payload is None else json.dumps(payload).encode()
        return admin.request(Tally(), False, method, path, body, "application/json")

    texts = [(f"Question {i}?", f"{TEXT} (0)", f"{TEXT} (1)") for i in range(args.items)]
    project = project_create(call, texts)
    if ls_db:
        _vacuum_analyze(ls_db)

    def db_pids() -> list[int]:
        return _postgres_backends(ls_db) if ls_db else []

    system = System(
        name="label-studio",
        make=lambda i: LabelStudioLabeler(
            port, project, tokens["labelers"][i], args.retry_fraction
        ),
        pids=lambda: _children(server.pid) + db_pids(),
        db_pids=db_pids,
        verify=lambda keys: verify(env, project, keys),
        queries=None,
        reaped=lambda: _reaped_cpu_seconds(ls_db) if ls_db else 0.0,
    )
    return system, server
