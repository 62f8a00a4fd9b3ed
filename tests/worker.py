"""A real Celery worker process on the real broker, against the test database.

The embedded default uses the filesystem broker under CHORUS_VAR_DIR; with CELERY_BROKER_URL
set (Redis in CI) the worker uses that. The worker reads the same test database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user, password = db.get("USER") or "", db.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def worker_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings_test",
        CHORUS_VAR_DIR=str(settings.VAR_DIR),
        DATABASE_URL=_database_url(),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class WorkerProcess:
    def __init__(self, proc: subprocess.Popen[str]):
        self.proc = proc
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if " ready." in line:
                self._ready.set()

    def wait_ready(self, timeout: float = 90) -> None:
        if not self._ready.wait(timeout):
            raise RuntimeError("Celery worker did not start:\n" + "".join(self.lines[-50:]))

    @property
    def log(self) -> str:
        return "".join(self.lines)


@contextmanager
def celery_worker(
    queues: str = "default,training", args: Sequence[str] = (), **env: str
) -> Iterator[WorkerProcess]:
    """Start `celery -A config worker` like production does, and stop it afterwards.
    `args` are added to the command line (`--beat`, say).

    Messages left on the broker by earlier runs are purged first: their ids would point at rows
    of another test database.
    """
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "purge", "-f", "-Q", queues],
        cwd=ROOT, env=worker_env(**env), capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queues,
        "--concurrency", "1", "--prefetch-multiplier", "1", "-l", "INFO", "--without-mingle", "--without-gossip",
        "-n", f"test-{os.getpid()}-{time.monotonic_ns()}@%h", *args,
    ]  # fmt: skip
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=worker_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the pool child goes with it
    )
    worker = WorkerProcess(proc)
    try:
        worker.wait_ready()
        yield worker
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # any pool child or trainer still shutting down
        except ProcessLookupError:
            pass
        worker._thread.join(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def wait_for(
    predicate, timeout: float = 60, interval: float = 0.2, worker: WorkerProcess | None = None
):  # noqa: ANN001, ANN201
    """Poll until predicate() is truthy; on timeout, fail with the worker's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(
        "timed out waiting" + (f"; worker log:\n{worker.log[-4000:]}" if worker else "")
    )


def wait_for_row(model, pk: int, worker: WorkerProcess, timeout: float = 60, **lookup):  # noqa: ANN001, ANN003, ANN201
    """Poll until the row `pk` of `model` matches `lookup` (``status__in=...``, ``step__gte=...``)
    and return it; on timeout, fail with the worker's log."""
    return wait_for(
        lambda: model.objects.filter(pk=pk, **lookup).first(), timeout=timeout, worker=worker
    )
