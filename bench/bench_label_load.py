"""Load benchmark: closed-loop labelers doing next item + submit against the production server.

    .venv/bin/python bench/bench_label_load.py                        # PostgreSQL: API and htmx paths
    .venv/bin/python bench/bench_label_load.py --database sqlite      # the embedded default (SQLite)

PostgreSQL is the database named in DATABASE_URL (default `chorus_bench`; it is DROPPED and
made again, so never point it at real data); SQLite is a fresh file in a temporary folder. The
script migrates, seeds two pairwise projects (overlap 3, one rubric criterion; one per path)
with --items items each, and --labelers labelers, starts `gunicorn config.wsgi` with production
settings (DEBUG off, CHORUS_SECURE=0 for plain HTTP; on PostgreSQL with the shared cache of
CHORUS_CACHE_URL, default the local Redis db 3, as docker-compose runs it) and runs each
concurrency level for --seconds after --warmup, interleaving the systems at each level:

- `api`: GET /api/label/projects/<id>/next/, POST /api/label/items/<id>/judgments/ (scale, two
  ratings, a rationale), as an API client or a labeling tool would;
- `htmx`: the workbench as the browser drives it: GET the page fragment once, then POST each
  judgment form, whose answer is the next item (submit-and-next, one request per annotation);

- `label-studio`: Label Studio from its own virtualenv (--label-studio-venv or LABEL_STUDIO_VENV;
  skipped without one), on the same kind of database, with the same tasks, labelers, retries
  and final check (bench/_label_studio.py says how it is set up and what it posts).

A fraction of submissions is sent twice with the same client key, as a browser retry would.
For each level it prints annotations/s, p50/p95/p99 per request, errors, the server's CPU ms per
annotation (gunicorn workers + the PostgreSQL backends serving them, from /proc, before and
after the level) and SQL queries per annotation (measured in this process with the same settings
on a probe project, Django's query log). At the end it checks every system against its database:
each judgment the server acknowledged is stored once (lost / unacknowledged extra), no labeler
judged an item twice, and no item is over its overlap target.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import socket
import string
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

import _label_studio as label_studio
from _load import (
    RATIONALE,
    TEXT,
    Client,
    System,
    Tally,
    _calibration_ms,
    _children,
    _cpu_seconds,
    _percentile,
    _postgres_backends,
    _reaped_cpu_seconds,
    _recreate_postgres,
    _run_level,
    _start_gunicorn,
    _vacuum_analyze,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/chorus_bench"
DEFAULT_CACHE = "redis://127.0.0.1:6379/3"


# --- Chorus: database, seed, server -----------------------------------------------------------


def _setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _postgres_reachable(database_url: str) -> bool:
    import psycopg

    admin = urlparse(database_url)._replace(path="/postgres").geturl()
    try:
        psycopg.connect(admin, connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


def _project(name: str, n_items: int) -> Any:
    from annotation import models as m
    from annotation.services.projects import project_create

    project = project_create(
        name=name, kind="pairwise", guidelines="# Bench\nPrefer the helpful reply.", overlap_target=3,
        criteria=[{"name": "Helpfulness"}],
    )  # fmt: skip
    batch = 2000
    for start in range(0, n_items, batch):
        size = min(batch, n_items - start)
        prompts = m.Prompt.objects.bulk_create([m.Prompt(project=project) for _ in range(size)])
        m.Turn.objects.bulk_create(
            [
                m.Turn(prompt=p, position=0, role="user", content=f"Question {p.pk}?")
                for p in prompts
            ]
        )
        completions = m.Completion.objects.bulk_create(
            [
                m.Completion(prompt=p, text=f"{TEXT} ({k})", source_model=f"model-{k}")
                for p in prompts
                for k in range(2)
            ]
        )
        items = m.Item.objects.bulk_create([m.Item(project=project, prompt=p) for p in prompts])
        m.ItemCompletion.objects.bulk_create(
            [
                m.ItemCompletion(item=item, completion=completions[2 * i + k], position=k)
                for i, item in enumerate(items)
                for k in range(2)
            ]
        )
    return project


@dataclass(frozen=True)
class Seeded:
    projects: dict[str, tuple[int, int]]  # path -> (project id, criterion id)
    sessions: list[tuple[str, str]]  # per labeler: (session key, CSRF secret)


def _seed(n_items: int, n_labelers: int) -> Seeded:
    """Two projects (one per path), a probe project, the labelers and their login sessions (with
    the guidelines marked read, as after the first page)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    from annotation import models as m
    from annotation.views.label import SEEN

    call_command("migrate", verbosity=0)
    projects = {path: _project(f"Bench {path}", n_items) for path in ("api", "htmx")}
    _project("Bench probe", 40)
    password = make_password("bench-password")
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"bench{i}", password=password) for i in range(n_labelers)]
    )
    Group.objects.get(name="labeler").user_set.add(*users)
    m.LabelerProfile.objects.bulk_create([m.LabelerProfile(user=u) for u in users])
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    sessions = []
    for user in users:
        store = store_class()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store[SEEN] = {str(p.pk): 1 for p in projects.values()}
        store.create()
        csrf = "".join(random.choices(string.ascii_letters + string.digits, k=32))
        sessions.append((store.session_key, csrf))
    return Seeded(
        projects={path: (p.pk, p.criteria.get().pk) for path, p in projects.items()},
        sessions=sessions,
    )


def _gunicorn_argv(app: str, port: int, args: argparse.Namespace) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}",
        "--workers", str(args.workers), "--worker-class", args.worker_class,
        "--threads", str(args.threads), "--log-level", "warning", "--timeout", "120",
    ]  # fmt: skip


# --- Clients ------------------------------------------------------------------------------------


class ApiLabeler(Client):
    def __init__(self, port: int, project: tuple[int, int], session: tuple[str, str], retry: float):
        key, csrf = session
        cookie = {"Cookie": f"sessionid={key}; csrftoken={csrf}", "X-CSRFToken": csrf}
        super().__init__(port, cookie, retry)
        self.project_id, self.criterion_id = project

    def one(self, tally: Tally, record: bool) -> bool:
        """next + submit once; False when nothing is left."""
        path = f"/api/label/projects/{self.project_id}/next/"
        status, data = self.request(tally, record, "GET", path, None, "")
        if status != 200:
            return self.error(tally, f"next {status} {data[:200]!r}")
        item = json.loads(data)["item"]
        if item is None:
            return False
        key = str(uuid.uuid4())
        body = json.dumps(
            {
                "client_key": key,
                "choice": self.rng.randint(1, 8),
                "ratings": [
                    {"criterion": self.criterion_id, "response": n, "value": self.rng.randint(1, 7)}
                    for n in (1, 2)
                ],
                "rationale": RATIONALE,
                "seconds_spent": round(self.rng.uniform(5, 60), 1),
                "guideline_version": 1,
            }
        ).encode()
        for attempt in range(self.sends()):
            path = f"/api/label/items/{item['id']}/judgments/"
            status, data = self.request(tally, record, "POST", path, body, "application/json")
            if status == 201 and attempt == 0:
                tally.created += 1
                self.acknowledged.add(key)
            elif status == 200 and attempt == 1:
                tally.replayed += 1
            else:
                return self.error(tally, f"submit {status} {data[:200]!r}")
        return True


_ITEM = re.compile(rb'data-item="(\d+)"')
_KEY = re.compile(rb'name="client_key" value="([0-9a-f-]+)"')


class HtmxLabeler(Client):
    """The workbench as htmx drives it: the form's POST answers with the next item's fragment."""

    def __init__(self, port: int, project: tuple[int, int], session: tuple[str, str], retry: float):
        key, csrf = session
        headers = {
            "Cookie": f"sessionid={key}; csrftoken={csrf}",
            "X-CSRFToken": csrf,
            "HX-Request": "true",
        }
        super().__init__(port, headers, retry)
        self.project_id, self.criterion_id = project
        self.page: bytes | None = None  # the fragment on screen

    def one(self, tally: Tally, record: bool) -> bool:
        if self.page is None:
            path = f"/label/{self.project_id}/"
            status, self.page = self.request(tally, record, "GET", path, None, "")
            if status != 200:
                self.page = None
                return self.error(tally, f"workbench {status}")
        item, key = _ITEM.search(self.page), _KEY.search(self.page)
        if item is None or key is None:
            return False  # "nothing left"
        form = {
            "client_key": key.group(1).decode(),
            "guideline_version": "1",
            "seconds_spent": str(round(self.rng.uniform(5, 60), 1)),
            "choice": str(self.rng.randint(1, 8)),
            "rationale": RATIONALE,
            **{f"rating_{self.criterion_id}_{n}": str(self.rng.randint(1, 7)) for n in (1, 2)},
        }
        body = urlencode(form).encode()
        path = f"/label/{self.project_id}/items/{item.group(1).decode()}/judgment/"
        for attempt in range(self.sends()):
            kind = "application/x-www-form-urlencoded"
            status, page = self.request(tally, record, "POST", path, body, kind)
            if status != 200:
                self.page = None
                return self.error(tally, f"submit {status} {page[:200]!r}")
            if attempt == 0:
                tally.created += 1
                self.acknowledged.add(form["client_key"])
            else:
                tally.replayed += 1
            self.page = page
        return True


def _query_counts(projects: dict[str, tuple[int, int]]) -> dict[str, float]:
    """SQL queries per annotation on each path, measured in this process with the server's
    settings: a probe labeler judges 10 items of the probe project (never the measured ones)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext

    from annotation.models import Project

    probe = Project.objects.get(name="Bench probe")
    criterion = probe.criteria.get().pk
    counts = {}
    for path in ("api", "htmx"):
        user = get_user_model().objects.create_user(username=f"probe-{path}", password=None)
        Group.objects.get(name="labeler").user_set.add(user)
        client = DjangoClient(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        client.post(f"/label/{probe.pk}/guidelines/read/", {"version": 1})
        one = _probe_api if path == "api" else _probe_htmx
        state: dict[str, bytes] = {}
        one(client, probe.pk, criterion, state)  # first request of a session: not counted
        with CaptureQueriesContext(connection) as queries:
            for _ in range(10):
                one(client, probe.pk, criterion, state)
        control = ("BEGIN", "COMMIT", "ROLLBACK")  # logged on SQLite only
        counted = [q for q in queries.captured_queries if not q["sql"].startswith(control)]
        counts[path] = len(counted) / 10
    return counts


def _probe_api(client: Any, project_id: int, criterion: int, state: dict[str, bytes]) -> None:
    item = client.get(f"/api/label/projects/{project_id}/next/").json()["item"]
    body = {
        "client_key": str(uuid.uuid4()), "choice": 3, "rationale": RATIONALE,
        "ratings": [{"criterion": criterion, "response": n, "value": 4} for n in (1, 2)],
    }  # fmt: skip
    response = client.post(
        f"/api/label/items/{item['id']}/judgments/", body, content_type="application/json"
    )
    assert response.status_code == 201, response.content[:300]


def _probe_htmx(client: Any, project_id: int, criterion: int, state: dict[str, bytes]) -> None:
    """One annotation as the workbench makes it: POST the form, whose answer is the next item
    (the page itself is fetched once, on the first call)."""
    if "page" not in state:
        state["page"] = client.get(f"/label/{project_id}/", HTTP_HX_REQUEST="true").content
    item, key = _ITEM.search(state["page"]), _KEY.search(state["page"])
    assert item is not None and key is not None, state["page"][:300]
    form = {
        "client_key": key.group(1).decode(), "guideline_version": "1", "choice": "3",
        **{f"rating_{criterion}_{n}": "4" for n in (1, 2)},
    }  # fmt: skip
    path = f"/label/{project_id}/items/{item.group(1).decode()}/judgment/"
    response = client.post(path, form, HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content[:300]
    state["page"] = response.content


def _verify_chorus(project_id: int, acknowledged: set[str]) -> dict[str, int]:
    from django.db.models import Count, F

    from annotation.models import Item, Judgment

    judgments = Judgment.objects.filter(item__project_id=project_id, source="human")
    stored = {str(k) for k in judgments.values_list("client_key", flat=True)}
    items = Item.objects.filter(project_id=project_id).annotate(n=Count("judgments"))
    return {
        "lost": len(acknowledged - stored),
        "extra": len(stored - acknowledged),  # stored, never acknowledged (a timed-out request)
        "duplicated": judgments.values("item", "labeler").annotate(n=Count("pk"))
        .filter(n__gt=1).count(),
        "over_overlap": items.filter(n__gt=F("project__overlap_target")).count(),
        "count_drift": items.exclude(n=F("human_judgment_count")).count(),
    }  # fmt: skip


# --- Main ---------------------------------------------------------------------------------------


def _chorus_env(args: argparse.Namespace, var: Path) -> dict[str, str]:
    env = {
        "CHORUS_SECRET_KEY": "bench-" + secrets.token_hex(16),
        "CHORUS_VAR_DIR": str(var), "CHORUS_SECURE": "0", "CHORUS_DEBUG": "0",
        "CHORUS_ALLOWED_HOSTS": "127.0.0.1", "CHORUS_LOG_LEVEL": "WARNING",
        "CHORUS_STATIC_ROOT": str(var / "staticfiles"),
        "CHORUS_API_THROTTLE_USER": "100000/minute",
    }  # fmt: skip
    if args.database == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{var / 'chorus.sqlite3'}"
        env["CHORUS_CACHE_URL"] = ""
    else:
        env["DATABASE_URL"] = os.environ.get("DATABASE_URL") or DEFAULT_DB
        env["CHORUS_CACHE_URL"] = os.environ.get("CHORUS_CACHE_URL", DEFAULT_CACHE)
        if args.prepared:
            env["CHORUS_DB_PREPARED_STATEMENTS"] = "1"
    return env


def _print_row(
    system: System, level: int, tally: Tally, seconds: float, cpu: tuple[float, float]
) -> None:
    ms = [x * 1000 for x in tally.latencies]
    cpu_ms, db_ms = cpu
    queries = f"{system.queries:.1f}" if system.queries is not None else "-"
    print(
        f"{system.name:<13} {level:>8} {tally.created / seconds:>8.1f} {_percentile(ms, 50):>7.1f} "
        f"{_percentile(ms, 95):>7.1f} {_percentile(ms, 99):>7.1f} {tally.errors:>6} "
        f"{tally.replayed:>7} {cpu_ms:>10.2f} {cpu_ms - db_ms:>7.2f} {db_ms:>6.2f} {queries:>9}",
        flush=True,
    )
    for sample in tally.error_samples:
        print("   error:", sample)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--database", choices=["postgres", "sqlite"], default="postgres")
    add("--paths", default="api,htmx", help="Chorus paths to load: api, htmx or both")
    add("--concurrency", default="1,8,32,64", help="comma-separated labeler counts")
    add("--passes", type=int, default=1, help="times to run every level, interleaved")
    add("--seconds", type=float, default=15, help="measured seconds per level")
    add("--warmup", type=float, default=2, help="unmeasured seconds per level")
    add("--items", type=int, default=10000, help="items per Chorus project")
    add("--workers", type=int, default=3, help="gunicorn workers (as in docker-compose)")
    add("--worker-class", default="sync")
    add("--threads", type=int, default=1, help="gunicorn threads per worker (gthread)")
    add("--retry-fraction", type=float, default=0.05, help="submissions resent with the same key")
    add("--port", type=int, default=0, help="the server's port (0: a free one)")
    add("--prepared", action="store_true", help="PostgreSQL: CHORUS_DB_PREPARED_STATEMENTS=1")
    add("--label-studio-venv", default="", help="a virtualenv with label-studio and gunicorn "
        "(default $LABEL_STUDIO_VENV); Label Studio is skipped without one")  # fmt: skip
    return parser


def main() -> None:
    args = _parser().parse_args()
    if not args.port:  # a free port: other benchmarks may share this machine
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            args.port = probe.getsockname()[1]
    levels = [int(c) for c in args.concurrency.split(",")]
    var = Path(tempfile.mkdtemp(prefix="chorus-bench-"))
    (var / "staticfiles").mkdir()
    env = _chorus_env(args, var)
    database_url = env["DATABASE_URL"]
    if args.database == "postgres":
        if not _postgres_reachable(database_url):
            print(f"SKIPPED: PostgreSQL is not reachable at {urlparse(database_url).netloc}")
            return
        _recreate_postgres(database_url)
    print(f"seeding {args.items} items per path and {max(levels)} labelers ...", flush=True)
    _setup_django(env)
    seeded = _seed(args.items, max(levels))
    queries = _query_counts(seeded.projects)
    from django.db import connection

    connection.close()
    if args.database == "postgres":
        _vacuum_analyze(database_url)
    server_env = {**os.environ, **env, "DJANGO_SETTINGS_MODULE": "config.settings"}
    argv = _gunicorn_argv("config.wsgi", args.port, args)
    server = _start_gunicorn(argv, server_env, args.port, ROOT, "/accounts/login/")
    systems, servers = [], [server]
    try:

        def db_pids() -> list[int]:
            return [] if args.database == "sqlite" else _postgres_backends(database_url)

        def reaped() -> float:  # a backend whose connection ended mid-level keeps its CPU
            return 0.0 if args.database == "sqlite" else _reaped_cpu_seconds(database_url)

        def chorus_pids() -> list[int]:
            return _children(server.pid) + db_pids()

        labeler_class = {"api": ApiLabeler, "htmx": HtmxLabeler}
        for path in args.paths.split(","):
            project = seeded.projects[path]
            systems.append(
                System(
                    name=f"chorus-{path}",
                    make=lambda i, c=labeler_class[path], p=project: c(
                        args.port, p, seeded.sessions[i], args.retry_fraction
                    ),
                    pids=chorus_pids,
                    db_pids=db_pids,
                    verify=lambda keys, p=project: _verify_chorus(p[0], keys),
                    queries=queries[path],
                    reaped=reaped,
                )
            )
        started = label_studio.label_studio_system(args, database_url, var, max(levels))
        if started:
            systems.append(started[0])
            servers.append(started[1])
        _run(systems, levels, args)
    finally:
        for process in servers:
            process.terminate()
            process.wait(timeout=30)
    print("\nfinal check against each database:")
    for system in systems:
        acknowledged = set().union(*(labeler.acknowledged for labeler in system.labelers))
        print(f"  {system.name}: acknowledged {len(acknowledged)}, {system.verify(acknowledged)}")


def _run(systems: list[System], levels: list[int], args: argparse.Namespace) -> None:
    where = "SQLite (embedded default)" if args.database == "sqlite" else "PostgreSQL"
    print(
        f"\ngunicorn: {args.workers} {args.worker_class} workers x {args.threads} threads, {where}; "
        f"{os.cpu_count()} CPUs shared with this client; no pause between items\n"
    )
    print(
        f"{'system':<13} {'labelers':>8} {'annot/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6} {'retries':>7} {'CPU ms/an':>10} {'app ms':>7} {'db ms':>6} {'queries/an':>9}"
    )
    print(f"calibration: a 2M-step Python loop takes {_calibration_ms():.0f} ms of CPU now")
    for system in systems:
        system.labelers = [system.make(i) for i in range(max(levels))]
    for _ in range(args.passes):
        for level in levels:
            for system in systems:
                pids, db = system.pids(), system.db_pids()
                reaped = system.reaped()
                cpu_before, db_before = _cpu_seconds(pids), _cpu_seconds(db)
                tally, warm = _run_level(system.labelers[:level], args.warmup, args.seconds)
                pids = sorted(set(pids) | set(system.pids()))
                db = sorted(set(db) | set(system.db_pids()))
                annotations = max(1, tally.created + warm.created)
                reaped = system.reaped() - reaped
                cpu_ms = (_cpu_seconds(pids) - cpu_before + reaped) / annotations * 1000
                db_ms = (_cpu_seconds(db) - db_before + reaped) / annotations * 1000
                tally.errors += warm.errors
                _print_row(system, level, tally, args.seconds, (cpu_ms, db_ms))
    print(f"calibration: a 2M-step Python loop takes {_calibration_ms():.0f} ms of CPU now")
    print(
        "\nCPU ms/an = CPU milliseconds per annotation in the server's processes (gunicorn workers "
        "and the database backends serving them): next + submit; app ms and db ms split it. queries/an = SQL queries per "
        "annotation (next + submit) in Chorus, from Django's query log in this process."
    )


if __name__ == "__main__":
    main()
