"""Profile the labeling hot path in one process: CPU per annotation in the app and in PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_prof CHORUS_CACHE_URL=redis://127.0.0.1:6379/3 \
        .venv/bin/python bench/profile_label_path.py --rounds 300 [--profile api|htmx] [--top 40]

The database in DATABASE_URL is DROPPED and made again. The script seeds the load benchmark's
projects (bench_label_load), then drives Django's WSGI handler directly (no HTTP, no test client)
with a real session cookie and CSRF token, as gunicorn would, for --rounds annotations per path:
`api` is GET next + POST judgment, `htmx` the workbench form's POST (submit-and-next). It prints
app CPU ms per annotation (this process) and PostgreSQL CPU ms (the backend's /proc figures, when
the server runs on this machine), and with --profile the top functions by own time (cProfile).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_label_load as load  # noqa: E402

_ITEM = re.compile(rb'data-item="(\d+)"')
_KEY = re.compile(rb'name="client_key" value="([0-9a-f-]+)"')


class Driver:
    """Calls the WSGI application as a server would, with one labeler's cookies."""

    def __init__(self, app: Any, session: tuple[str, str], htmx: bool):
        key, self.csrf = session
        self.app, self.cookie, self.htmx = app, f"sessionid={key}; csrftoken={self.csrf}", htmx

    def call(self, method: str, path: str, body: bytes = b"", kind: str = "") -> tuple[int, bytes]:
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
            "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
            "HTTP_COOKIE": self.cookie, "HTTP_X_CSRFTOKEN": self.csrf,
            "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": kind,
        }  # fmt: skip
        if self.htmx:
            environ["HTTP_HX_REQUEST"] = "true"
        status: list[str] = []
        chunks = self.app(environ, lambda s, h, e=None: status.append(s))
        data = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        return int(status[0].split()[0]), data


def api_round(driver: Driver, project: tuple[int, int], state: dict[str, Any]) -> None:
    project_id, criterion = project
    status, data = driver.call("GET", f"/api/label/projects/{project_id}/next/")
    assert status == 200, data[:300]
    item = json.loads(data)["item"]
    body = json.dumps(
        {
            "client_key": str(uuid.uuid4()),
            "choice": 3,
            "rationale": load.RATIONALE,
            "ratings": [{"criterion": criterion, "response": n, "value": 4} for n in (1, 2)],
            "seconds_spent": 12.5,
            "guideline_version": 1,
        }  # fmt: skip
    ).encode()
    path = f"/api/label/items/{item['id']}/judgments/"
    status, data = driver.call("POST", path, body, "application/json")
    assert status == 201, data[:300]


def htmx_round(driver: Driver, project: tuple[int, int], state: dict[str, Any]) -> None:
    project_id, criterion = project
    if "page" not in state:
        status, state["page"] = driver.call("GET", f"/label/{project_id}/")
        assert status == 200
    page = state["page"]
    item, key = _ITEM.search(page), _KEY.search(page)
    assert item is not None and key is not None, page[:300]
    form = {
        "client_key": key.group(1).decode(), "guideline_version": "1", "seconds_spent": "12.5",
        "choice": "3", "rationale": load.RATIONALE,
        **{f"rating_{criterion}_{n}": "4" for n in (1, 2)},
    }  # fmt: skip
    path = f"/label/{project_id}/items/{item.group(1).decode()}/judgment/"
    status, state["page"] = driver.call(
        "POST", path, urlencode(form).encode(), "application/x-www-form-urlencoded"
    )
    assert status == 200, state["page"][:300]


def _backend_cpu() -> float:
    """CPU seconds of this connection's PostgreSQL backend so far (0 if not readable here)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(name: str, rounds: int, driver: Driver, project: tuple[int, int], top: int, prof: bool):
    one = api_round if name == "api" else htmx_round
    state: dict[str, Any] = {}
    for _ in range(10):  # warm up: caches, compiled statements, the workbench page
        one(driver, project, state)
    profiler = cProfile.Profile(time.process_time) if prof else None  # CPU, not waits
    db_before, app_before, wall = _backend_cpu(), time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    for _ in range(rounds):
        one(driver, project, state)
    if profiler:
        profiler.disable()
    app = (time.process_time() - app_before) / rounds * 1000
    db = (_backend_cpu() - db_before) / rounds * 1000
    wall = (time.perf_counter() - wall) / rounds * 1000
    print(f"{name}: app {app:.2f} ms, PostgreSQL {db:.2f} ms per annotation (wall {wall:.2f} ms)")
    if profiler:
        stats = pstats.Stats(profiler)
        _print_counts(stats, rounds)
        if top:
            stats.sort_stats("tottime").print_stats(top)
            stats.sort_stats("cumulative").print_stats(top)


def _print_counts(stats: pstats.Stats, rounds: int) -> None:
    """Steadier than CPU time on a busy machine: Python calls, database statements (every one
    sent, health checks included) and shared-cache round trips (a pipeline is one) per
    annotation."""

    def calls(path: str, name: str) -> int:
        return sum(
            value[1]
            for (filename, _, function), value in stats.stats.items()  # type: ignore[attr-defined]
            if filename.endswith(path) and function == name
        )

    db = calls("psycopg/cursor.py", "execute")
    cache = calls("redis/client.py", "_execute_command") + calls("redis/client.py", "execute")
    total = stats.total_calls  # type: ignore[attr-defined]
    print(
        f"  per annotation: {total / rounds:,.0f} Python calls, {db / rounds:.1f} database "
        f"statements sent, {cache / rounds:.1f} shared-cache round trips"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--paths", default="api,htmx")
    parser.add_argument("--profile", default="", help="paths to profile (cProfile)")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="chorus-prof-"))
    env = {
        "CHORUS_SECRET_KEY": "profile-only", "CHORUS_VAR_DIR": str(var), "CHORUS_SECURE": "0",
        "CHORUS_DEBUG": "0", "CHORUS_ALLOWED_HOSTS": "127.0.0.1", "CHORUS_LOG_LEVEL": "WARNING",
        "CHORUS_API_THROTTLE_USER": "100000/minute", "CHORUS_DB_CONN_MAX_AGE": "3600",
        "DATABASE_URL": os.environ.get("DATABASE_URL") or load.DEFAULT_DB,
        "CHORUS_CACHE_URL": os.environ.get("CHORUS_CACHE_URL", load.DEFAULT_CACHE),
    }  # fmt: skip
    load._recreate_postgres(env["DATABASE_URL"])
    load._setup_django(env)
    seeded = load._seed(args.items, 2)
    load._vacuum_analyze(env["DATABASE_URL"])
    from django.core.cache import cache
    from django.core.handlers.wsgi import WSGIHandler

    cache.clear()
    app = WSGIHandler()
    for i, name in enumerate(args.paths.split(",")):
        driver = Driver(app, seeded.sessions[i], htmx=name == "htmx")
        measure(name, args.rounds, driver, seeded.projects[name], args.top, name in args.profile)


if __name__ == "__main__":
    main()
