"""The load harness of bench_label_load.py: labelers' HTTP clients, their tallies, the systems
under load and how their CPU is measured (Linux /proc), shared with bench/_label_studio.py."""

from __future__ import annotations

import http.client
import os
import random
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

TEXT = "Here is a careful answer with a short explanation, an example and a caveat. " * 8
RATIONALE = "Response one follows the instruction more closely."


def _recreate_postgres(database_url: str) -> None:
    import psycopg

    url = urlparse(database_url)
    name = url.path.lstrip("/")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _vacuum_analyze(database_url: str) -> None:
    """Planner statistics and visibility map after the bulk load, as autovacuum would have them."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _start_gunicorn(
    argv: list[str],
    env: dict[str, str],
    port: int,
    cwd: Path,
    ready_path: str,
    log: Path | None = None,
) -> subprocess.Popen[bytes]:
    output = open(log, "ab") if log else None  # noqa: SIM115 (the server's lifetime)
    server = subprocess.Popen(argv, cwd=cwd, env=env, stdout=output, stderr=output)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", ready_path)
            if conn.getresponse().status < 500:
                return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit(f"{argv[2]} did not start")


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # seconds, every request
    created: int = 0  # judgments acknowledged as new
    replayed: int = 0  # resends answered with the stored judgment
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.latencies += other.latencies
        self.created += other.created
        self.replayed += other.replayed
        self.errors += other.errors
        self.error_samples = (self.error_samples + other.error_samples)[:5]


class Client:
    """One labeler's keep-alive HTTP connection."""

    def __init__(self, port: int, headers: dict[str, str], retry_fraction: float):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = headers
        self.retry_fraction = retry_fraction
        self.rng = random.Random()
        self.acknowledged: set[str] = set()  # client keys (or ids) the server said it stored

    def request(
        self, tally: Tally, record: bool, method: str, path: str, body: bytes | None, kind: str
    ) -> tuple[int, bytes]:
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = kind
        start = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            raise
        if record:
            tally.latencies.append(time.perf_counter() - start)
        return response.status, data

    def sends(self) -> int:
        return 2 if self.rng.random() < self.retry_fraction else 1

    @staticmethod
    def error(tally: Tally, message: str) -> bool:
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


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _reaped_cpu_seconds(database_url: str) -> float:
    """CPU seconds of the PostgreSQL backends that have ended so far: the postmaster's reaped
    children (for a server that opens a connection per request, whose backends come and go)."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        backend = conn.info.backend_pid
    postmaster = int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")  # cutime, cstime


def _postgres_backends(database_url: str) -> list[int]:
    import psycopg

    name = urlparse(database_url).path.lstrip("/")
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        return [row[0] for row in rows]


def _calibration_ms() -> float:
    """CPU ms of a fixed pure-Python loop: how fast this machine is right now (on a shared,
    busy machine every CPU figure grows with it)."""
    start, total = time.process_time(), 0
    for i in range(2_000_000):
        total += i
    return (time.process_time() - start) * 1000


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _run_level(labelers: list[Any], warmup: float, seconds: float) -> tuple[Tally, Tally]:
    """Run the labelers for warmup + seconds; returns (measured tally, warm-up tally)."""
    measured, warm = Tally(), Tally()
    lock = threading.Lock()
    start = time.monotonic()
    measure_from, stop_at = start + warmup, start + warmup + seconds

    def loop(labeler: Any) -> None:
        local, local_warm = Tally(), Tally()
        while time.monotonic() < stop_at:
            record = time.monotonic() >= measure_from
            tally = local if record else local_warm
            try:
                if not labeler.one(tally, record):
                    break
            except (OSError, http.client.HTTPException) as exc:
                labeler.error(tally, repr(exc))
        with lock:
            measured.add(local)
            warm.add(local_warm)

    threads = [threading.Thread(target=loop, args=(labeler,)) for labeler in labelers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return measured, warm


@dataclass
class System:
    """One thing under load: how to make its labelers, whose CPU counts, how to check it."""

    name: str
    make: Callable[[int], Any]  # labeler index -> labeler
    pids: Callable[[], list[int]]  # the server's processes, the database's backends included
    db_pids: Callable[[], list[int]]  # the database's backends alone (none for SQLite)
    verify: Callable[[set[str]], dict[str, int]]
    queries: float | None
    # CPU seconds of the database backends that have ended so far (the postmaster's reaped
    # children): what a backend used before its connection ended is not lost from the figure
    reaped: Callable[[], float] = lambda: 0.0
    labelers: list[Any] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
