"""Load benchmark: C concurrent labelers doing next-item + submit against the production server.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_bench .venv/bin/python bench/bench_label_load.py

It (re)creates the database named in DATABASE_URL (default `chorus_bench`; it is DROPPED first, so
never point it at real data), migrates it, seeds one pairwise project (overlap 3, one rubric
criterion) with --items items and --labelers labelers, starts `gunicorn config.wsgi` with
production settings (DEBUG off, CHORUS_SECURE=0 for plain HTTP), and runs each concurrency level
for --seconds (after --warmup). Each labeler is a thread with its own session that loops:
GET /api/label/projects/<id>/next/, POST /api/label/items/<id>/judgments/ (scale, two ratings,
a rationale); a fraction of submissions is sent twice with the same client_key, as a browser
retry would. It prints annotations/s, p50/p95/p99 latency per request, errors, and a final count
from the database proving that no judgment was lost or duplicated.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import string
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/chorus_bench"
TEXT = "Here is a careful answer with a short explanation, an example and a caveat. " * 8


def _setup_django(database_url: str) -> None:
    os.environ.setdefault("CHORUS_SECRET_KEY", "bench-" + secrets.token_hex(16))
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _recreate_database(database_url: str) -> None:
    import psycopg

    url = urlparse(database_url)
    name = url.path.lstrip("/")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _seed(n_items: int, n_labelers: int) -> tuple[int, int, list[tuple[str, str]]]:
    """Project, items and labelers; returns (project id, criterion id, [(session key, csrf)])."""
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from annotation import models as m
    from annotation.services.projects import project_create

    call_command("migrate", verbosity=0)
    project = project_create(
        name="Bench pairs", kind="pairwise", guidelines="# Bench\nPrefer the helpful reply.", overlap_target=3,
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
    password = make_password("bench-password")
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"bench{i}", password=password) for i in range(n_labelers)]
    )
    labeler_group = Group.objects.get(name="labeler")
    labeler_group.user_set.add(*users)
    m.LabelerProfile.objects.bulk_create([m.LabelerProfile(user=u) for u in users])
    sessions = []
    for user in users:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        sessions.append(
            (store.session_key, "".join(random.choices(string.ascii_letters + string.digits, k=32)))
        )
    return project.pk, project.criteria.get().pk, sessions


def _analyze(database_url: str) -> None:
    """Planner statistics and visibility map after the bulk load, as autovacuum would have them."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _start_server(
    port: int, workers: int, worker_class: str, threads: int, database_url: str
) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url, CHORUS_SECURE="0", CHORUS_DEBUG="0", CHORUS_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SETTINGS_MODULE="config.settings", CHORUS_LOG_LEVEL="WARNING",
    )  # fmt: skip
    env.setdefault("CHORUS_STATIC_ROOT", str(ROOT / "var" / "staticfiles"))
    Path(env["CHORUS_STATIC_ROOT"]).mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
        "--worker-class", worker_class, "--threads", str(threads), "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/accounts/login/")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("gunicorn did not start")


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # seconds, every request
    next_latencies: list[float] = field(default_factory=list)
    submit_latencies: list[float] = field(default_factory=list)
    created: int = 0  # 201 answers: new judgments
    replayed: int = 0  # 200 answers to a resend with the same key
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)


class Labeler:
    def __init__(
        self,
        port: int,
        project_id: int,
        criterion_id: int,
        session: tuple[str, str],
        retry_fraction: float,
        think: float,
    ):
        self.think = think
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        session_key, csrf = session
        self.headers = {"Cookie": f"sessionid={session_key}; csrftoken={csrf}", "X-CSRFToken": csrf}
        self.project_id, self.criterion_id, self.retry_fraction = (
            project_id,
            criterion_id,
            retry_fraction,
        )
        self.rng = random.Random()

    def _request(
        self, method: str, path: str, body: dict | None = None
    ) -> tuple[int, bytes, float]:
        headers = dict(self.headers)
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        start = time.perf_counter()
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            raise
        return response.status, data, time.perf_counter() - start

    def one(self, tally: Tally, record: bool) -> bool:
        """next + submit once (latencies kept if `record`); False when nothing is left."""
        status, data, elapsed = self._request("GET", f"/api/label/projects/{self.project_id}/next/")
        if record:
            tally.latencies.append(elapsed)
            tally.next_latencies.append(elapsed)
        if status != 200:
            return self._error(tally, f"next {status} {data[:200]!r}")
        item = json.loads(data)["item"]
        if item is None:
            return False
        if self.think:  # reading and deciding, paced like a (very fast) labeler
            time.sleep(self.rng.uniform(0.5, 1.5) * self.think)
        body = {
            "client_key": str(uuid.uuid4()),
            "choice": self.rng.randint(1, 8),
            "ratings": [
                {"criterion": self.criterion_id, "response": n, "value": self.rng.randint(1, 7)}
                for n in (1, 2)
            ],
            "rationale": "Response one follows the instruction more closely.",
            "seconds_spent": round(self.rng.uniform(5, 60), 1),
            "guideline_version": 1,
        }
        sends = 2 if self.rng.random() < self.retry_fraction else 1
        for attempt in range(sends):
            status, data, elapsed = self._request(
                "POST", f"/api/label/items/{item['id']}/judgments/", body
            )
            if record:
                tally.latencies.append(elapsed)
                tally.submit_latencies.append(elapsed)
            if status == 201 and attempt == 0:
                tally.created += 1
            elif status == 200 and attempt == 1:
                tally.replayed += 1
            else:
                return self._error(tally, f"submit {status} {data[:200]!r}")
        return True

    @staticmethod
    def _error(tally: Tally, message: str) -> bool:
        tally.errors += 1
        if len(tally.error_samples) < 5:
            tally.error_samples.append(message)
        return True


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def _server_pids(server: subprocess.Popen[bytes], database_url: str) -> list[int]:
    """The gunicorn workers and the PostgreSQL backends serving the benchmark database."""
    import psycopg

    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == server.pid:
                workers.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    name = urlparse(database_url).path.lstrip("/")
    with psycopg.connect(database_url) as conn:
        backends = [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
        ]
    return workers + backends


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _run_level(labelers: list[Labeler], warmup: float, seconds: float) -> tuple[Tally, Tally]:
    """Run the labelers for warmup + seconds; returns (measured tally, warm-up tally)."""
    measured, warm = Tally(), Tally()
    lock = threading.Lock()
    start = time.monotonic()
    measure_from, stop_at = start + warmup, start + warmup + seconds

    def loop(labeler: Labeler) -> None:
        local, local_warm = Tally(), Tally()
        while time.monotonic() < stop_at:
            record = time.monotonic() >= measure_from
            tally = local if record else local_warm
            try:
                if not labeler.one(tally, record):
                    break
            except (OSError, http.client.HTTPException) as exc:
                labeler._error(tally, repr(exc))
        with lock:
            for total, part in ((measured, local), (warm, local_warm)):
                total.latencies += part.latencies
                total.next_latencies += part.next_latencies
                total.submit_latencies += part.submit_latencies
                total.created += part.created
                total.replayed += part.replayed
                total.errors += part.errors
                total.error_samples = (total.error_samples + part.error_samples)[:5]

    threads = [threading.Thread(target=loop, args=(labeler,)) for labeler in labelers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return measured, warm


def _verify(client_created: int) -> dict[str, int | bool]:
    from django.db.models import Count, F

    from annotation.models import Item, Judgment

    stored = Judgment.objects.filter(source="human").count()
    per_pair = (
        Judgment.objects.values("item", "labeler").annotate(n=Count("pk")).filter(n__gt=1).count()
    )
    over_target = (
        Item.objects.annotate(n=Count("judgments"))
        .filter(n__gt=F("project__overlap_target"))
        .count()
    )
    count_drift = (
        Item.objects.annotate(n=Count("judgments")).exclude(n=F("human_judgment_count")).count()
    )
    return {
        "accepted_by_server (201s seen by clients)": client_created,
        "stored_in_database": stored,
        "lost_or_extra": stored - client_created,
        "duplicate item+labeler pairs": per_pair,
        "items over overlap target": over_target,
        "items whose human_judgment_count is off": count_drift,
        "ok": stored == client_created and per_pair == 0 and over_target == 0 and count_drift == 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="1,8,32,64", help="comma-separated labeler counts")
    parser.add_argument("--seconds", type=float, default=15, help="measured seconds per level")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured seconds per level")
    parser.add_argument("--items", type=int, default=15000)
    parser.add_argument(
        "--workers", type=int, default=3, help="gunicorn workers (as in the Dockerfile)"
    )
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument(
        "--threads", type=int, default=1, help="gunicorn threads per worker (gthread)"
    )
    parser.add_argument(
        "--retry-fraction", type=float, default=0.05, help="submissions resent with the same key"
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--think", type=float, default=0.0,
        help="mean seconds a labeler spends on an item between next and submit (0: closed loop, as fast as the server "
        "answers; real labelers take 10-60 s)",
    )  # fmt: skip
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DB
    if not database_url.startswith("postgres"):
        raise SystemExit(
            "DATABASE_URL must point at a PostgreSQL database reserved for this benchmark"
        )

    try:
        import psycopg

        psycopg.connect(
            urlparse(database_url)._replace(path="/postgres").geturl(), connect_timeout=3
        ).close()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means: no server here
        print(
            f"SKIPPED: PostgreSQL is not reachable at {urlparse(database_url).netloc} ({exc.__class__.__name__})"
        )
        return
    print(
        f"seeding {args.items} items and {max(levels)} labelers in {urlparse(database_url).path.lstrip('/')} ...",
        flush=True,
    )
    _recreate_database(database_url)
    _setup_django(database_url)
    project_id, criterion_id, sessions = _seed(args.items, max(levels))
    from django.db import connection

    connection.close()
    _analyze(database_url)
    server = _start_server(args.port, args.workers, args.worker_class, args.threads, database_url)
    print(f"gunicorn config.wsgi: {args.workers} {args.worker_class} workers x {args.threads} threads, PostgreSQL; "
          f"{os.cpu_count()} CPUs shared with this client; think time {args.think} s\n", flush=True)  # fmt: skip
    header = f"{'labelers':>8} {'annot/s':>8} {'requests':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'next p99':>8} {'submit p99':>10} {'errors':>6} {'retries':>8} {'server CPU':>10} {'client CPU':>10}"
    print(header)
    total_created = 0
    try:
        labelers = [
            Labeler(args.port, project_id, criterion_id, s, args.retry_fraction, args.think)
            for s in sessions
        ]
        for level in levels:
            pids = _server_pids(server, database_url)
            cpu_before, client_before = _cpu_seconds(pids), time.process_time()
            tally, warm = _run_level(labelers[:level], args.warmup, args.seconds)
            pids = sorted(set(pids) | set(_server_pids(server, database_url)))
            annotations = max(1, tally.created + warm.created)
            server_cpu = (_cpu_seconds(pids) - cpu_before) / annotations * 1000
            client_cpu = (time.process_time() - client_before) / annotations * 1000
            total_created += tally.created + warm.created
            ms = [x * 1000 for x in tally.latencies]
            print(
                f"{level:>8} {tally.created / args.seconds:>8.1f} {len(ms):>8} {_percentile(ms, 50):>7.1f} {_percentile(ms, 95):>7.1f} "
                f"{_percentile(ms, 99):>7.1f} {_percentile([x * 1000 for x in tally.next_latencies], 99):>8.1f} "
                f"{_percentile([x * 1000 for x in tally.submit_latencies], 99):>10.1f} {tally.errors + warm.errors:>6}"
                f" {tally.replayed:>8} {server_cpu:>10.1f} {client_cpu:>10.1f}",
                flush=True,
            )
            for sample in tally.error_samples + warm.error_samples:
                print("   error:", sample)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(
        "\nserver CPU = CPU ms per annotation in the gunicorn workers and the PostgreSQL backends serving them "
        "(next + submit); client CPU = the same for this load generator. Two dedicated cores sustain about "
        "2000 / (server CPU) annotations/s."
    )
    print("\nfinal count:")
    for key, value in _verify(total_created).items():
        print(f"  {key}: {value}")


if __name__ == "__main__":
    main()
