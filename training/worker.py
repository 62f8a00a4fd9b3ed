"""Running a job's child process on a training worker: one path for training runs and generation
(and scoring) jobs alike.

A job (a `WorkerJob`: TrainingRun or GenerationJob) is claimed (queued -> running in one
UPDATE, so a redelivered message does nothing), then `run_child` launches `python -m training.ml
...` (or `accelerate launch ...`) and relays what it says (training/ml/protocol.py) until it
exits:

- A crash or an out-of-memory kill of the child ends the job, not the worker, and frees GPU
  memory; on Linux the child is killed if the worker dies (PR_SET_PDEATHSIG). Its stderr goes
  to a log file whose last lines explain a failure (`Outcome.failure`).
- Progress lines become fields of the job (and rows, e.g. metric points) through the caller's
  `on_progress`; they are written at most every PROGRESS_SECONDS, with a heartbeat at least
  every HEARTBEAT_SECONDS, even while the child is quiet (loading a model, say).
- Every CANCEL_POLL_SECONDS the worker looks whether the job was cancelled or is no longer
  running (failed by the lost-worker sweep, services/sweeps.py); if so it writes the protocol's
  CANCEL file and the child stops at its next step or batch. A child that ignores it for
  CANCEL_GRACE_SECONDS is killed.
- `job_finish` writes the final state, unless the job was failed meanwhile (the sweep wins).

`child_rows` is the rows-in, rows-out form used by generation and scoring: rows written to a
temporary directory, the child's output rows read back once it has succeeded.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from training.ml import protocol
from training.models import RunStatus, WorkerJob

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.5  # the relay's callbacks run at least this often
PROGRESS_SECONDS = 1.0  # at most one progress write per second
HEARTBEAT_SECONDS = 5.0  # a sign of life at least this often, even when the child is quiet
CANCEL_POLL_SECONDS = 1.0  # how often the worker looks for a cancel request
CANCEL_GRACE_SECONDS = 300.0  # a child that ignores CANCEL this long is killed
LOG_TAIL_LINES = 20

# on_progress(payload of a progress line) -> (fields of the job to write, rows to insert)
OnProgress = Callable[[dict[str, Any]], tuple[dict[str, Any], list[models.Model]]]


class JobStopped(Exception):
    """The job was cancelled, or failed by the sweep, while it ran: stop here."""


class ChildFailed(Exception):
    """The child process failed; the message says why (it goes in the job's `error`)."""


class _IgnoredCancel(Exception):
    """The child ignored CANCEL past the grace period (raised in a tick: the child is killed)."""


# --- the job's state in the database -------------------------------------------------------


def job_claim(model: type[WorkerJob], *, job_id: int, hostname: str, **fields: Any) -> bool:
    """queued -> running, in one UPDATE; False if the job is not queued (redelivered message)."""
    now = timezone.now()
    return bool(
        model.objects.filter(pk=job_id, status=RunStatus.QUEUED).update(
            status=RunStatus.RUNNING,
            started_at=now,
            heartbeat_at=now,
            worker_hostname=hostname[:200],
            **fields,
        )  # fmt: skip
    )


def job_cancel(job: WorkerJob, *, ended: str, **fields: Any) -> None:
    """A queued job is cancelled at once (with `fields`); a running one is marked
    cancel-requested and its child stops at its next step or batch. ValidationError(`ended`)
    if it has already ended."""
    jobs = type(job).objects.filter(pk=job.pk)
    cancelled = jobs.filter(status=RunStatus.QUEUED).update(
        status=RunStatus.CANCELLED, cancel_requested=True, finished_at=timezone.now(), **fields
    )
    if not cancelled and not jobs.filter(status=RunStatus.RUNNING).update(cancel_requested=True):
        raise ValidationError(ended)


def heartbeat(job: WorkerJob, **fields: Any) -> None:
    """A sign of life, with progress `fields`, while the job is running."""
    type(job).objects.filter(pk=job.pk, status=RunStatus.RUNNING).update(
        heartbeat_at=timezone.now(), **fields
    )


def should_stop(job: WorkerJob) -> bool:
    """The job was cancelled, or is no longer running (failed by the sweep, or deleted)."""
    state = type(job).objects.filter(pk=job.pk).values("status", "cancel_requested").first()
    return state is None or state["status"] != RunStatus.RUNNING or state["cancel_requested"]


def checkpoint(job: WorkerJob, **fields: Any) -> None:
    """Between child processes: a heartbeat with `fields`; JobStopped if the job should stop."""
    heartbeat(job, **fields)
    if should_stop(job):
        raise JobStopped


def job_finish(job: WorkerJob, **fields: Any) -> None:
    """The final state, unless the job was failed meanwhile (the lost-worker sweep wins)."""
    now = timezone.now()
    type(job).objects.filter(pk=job.pk, status=RunStatus.RUNNING).update(
        finished_at=now, heartbeat_at=now, **fields
    )


# --- the child process ---------------------------------------------------------------------


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


# The child runs model code a researcher chose (a hub id's remote code included): it gets the
# worker's environment minus the web app's secrets and connection strings. Hugging Face's own
# token stays (gated models need it); an endpoint's key is added back for its own job only.
_CHILD_ENV_DROP = re.compile(
    r"^(CHORUS_|DJANGO_|CELERY_)|^(DATABASE_URL|REDIS_URL|BROKER_URL)$"
    r"|KEY|SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL",
    re.IGNORECASE,
)
_CHILD_ENV_KEEP = frozenset({"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"})


def child_environment(parent: Mapping[str, str]) -> dict[str, str]:
    """`parent` without secrets and connection strings (see `_CHILD_ENV_DROP`)."""
    return {
        name: value
        for name, value in parent.items()
        if name in _CHILD_ENV_KEEP or not _CHILD_ENV_DROP.search(name)
    }


def launch(
    command: list[str], *, cwd: str | Path, log_path: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start `command` in its own session, stdout piped, stderr appended to `log_path`; its
    environment is the worker's without secrets (`child_environment`), plus `env`."""
    full_env = {
        **child_environment(os.environ),
        "PYTHONUNBUFFERED": "1",
        "TOKENIZERS_PARALLELISM": "false",
        **(env or {}),
    }
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            command, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=log, text=True, start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )  # fmt: skip


def kill(proc: subprocess.Popen[str]) -> None:
    """Kill the child and everything it started (its session), then reap it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def _pump(stream: Iterable[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def supervise(
    proc: subprocess.Popen[str], on_line: Callable[[str], None], on_tick: Callable[[], None]
) -> int:
    """Relay the child's lines until its output ends; its exit status. The child never outlives
    this call: if a callback raises, it is killed."""
    lines: queue.Queue[str | None] = queue.Queue()
    pump = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
    pump.start()
    try:
        while True:
            try:
                line = lines.get(timeout=TICK_SECONDS)
            except queue.Empty:
                line = ""
            if line is None:
                return proc.wait()
            if line:
                on_line(line)
            on_tick()
    finally:
        kill(proc)
        pump.join(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def relay_process(
    command: list[str],
    *,
    log_path: Path,
    env: Mapping[str, str],
    on_line: Callable[[str], None],
    on_tick: Callable[[], None],
) -> int:
    """Run `command` from the project root as a child of the worker, relaying its lines; its
    exit status."""
    proc = launch(command, cwd=settings.BASE_DIR, log_path=log_path, env=env)
    return supervise(proc, on_line, on_tick)


def ml_command(args: Sequence[str]) -> list[str]:
    """`python -m training.ml <args>`."""
    return [sys.executable, "-m", "training.ml", *args]


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last `lines` lines of a log ("" if there is none)."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def exit_reason(rc: int, what: str, cancelled: bool = False) -> str:
    """Why a child ended without a result, from its exit status alone."""
    if rc < 0:
        name = signal.Signals(-rc).name
        oom = " (out of memory?)" if name == "SIGKILL" and not cancelled else ""
        return f"The {what} was killed by {name}{oom}"
    return f"The {what} exited with status {rc} without a result."


# --- one relay for every kind of job -------------------------------------------------------


@dataclass
class Outcome:
    """How a child ended: its exit status, its result or error line, whether it was asked to stop."""

    rc: int
    log_path: Path
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    cancel_sent: bool = False  # the CANCEL file was written
    killed: bool = False  # it ignored CANCEL past the grace period and was killed

    @property
    def succeeded(self) -> bool:
        return self.rc == 0 and self.result is not None

    def failure(self, what: str) -> str:
        """Why it failed: its error line or exit status, and the last lines of its log."""
        if self.rc >= 0 and self.error:
            kind, message = self.error.get("kind", "internal"), self.error.get("message")
            why = f"The {what} stopped ({kind} error): {message}"
        else:
            why = exit_reason(self.rc, what, self.cancel_sent)
        tail = log_tail(self.log_path)
        return why + (f"\n\nLast lines of {self.log_path.name}:\n{tail}" if tail else "")


class _Relay:
    """One child's event lines: progress written throttled with a heartbeat, the CANCEL file
    once the job should stop (if `stoppable`), the result or error line kept."""

    def __init__(self, job: WorkerJob, work_dir: Path, on_progress: OnProgress, stoppable: bool):
        self.job, self.work_dir, self.on_progress = job, work_dir, on_progress
        self.stoppable = stoppable
        self.result: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.fields: dict[str, Any] = {}
        self.rows: list[models.Model] = []
        self.cancel_sent: float | None = None  # when the CANCEL file was written
        self.last_write, self.next_poll = -math.inf, 0.0

    def line(self, text: str) -> None:
        parsed = protocol.parse(text)
        if parsed is None:
            logger.warning("%s: the child printed a non-event line: %.200s", self.job, text)
            return
        event, payload = parsed
        if event == protocol.RESULT:
            self.result = payload
        elif event == protocol.ERROR:
            self.error = payload
        elif event == protocol.PROGRESS:
            fields, rows = self.on_progress(payload)
            self.fields.update(fields)
            self.rows += rows

    def tick(self) -> None:
        now = time.monotonic()
        since = now - self.last_write
        if ((self.fields or self.rows) and since >= PROGRESS_SECONDS) or since >= HEARTBEAT_SECONDS:
            self.write()
        if self.stoppable and self.cancel_sent is None and now >= self.next_poll:
            self.next_poll = now + CANCEL_POLL_SECONDS
            if should_stop(self.job):
                (self.work_dir / protocol.CANCEL_FILE).touch()
                self.cancel_sent = now
        elif self.cancel_sent is not None and now - self.cancel_sent > CANCEL_GRACE_SECONDS:
            waited = now - self.cancel_sent
            logger.warning("%s: the child ignored CANCEL for %.0f s; killing it", self.job, waited)
            raise _IgnoredCancel  # `supervise` kills a child whose callback raises

    def write(self) -> None:
        with transaction.atomic():
            heartbeat(self.job, **self.fields)
            if self.rows:
                type(self.rows[0]).objects.bulk_create(self.rows)
        self.fields, self.rows, self.last_write = {}, [], time.monotonic()


def _no_progress(payload: dict[str, Any]) -> tuple[dict[str, Any], list[models.Model]]:
    return {}, []


def run_child(
    job: WorkerJob,
    command: list[str],
    *,
    work_dir: Path,
    log_name: str,
    env: Mapping[str, str] | None = None,
    on_progress: OnProgress = _no_progress,
    stoppable: bool = True,
) -> Outcome:
    """Run `command` for `job`, its CANCEL file and log (`log_name`) in `work_dir`, relaying its
    events to the database until it exits (see the module doc)."""
    relay = _Relay(job, work_dir, on_progress, stoppable)
    log_path = work_dir / log_name
    killed = False
    try:
        rc = relay_process(
            command, log_path=log_path, env=env or {}, on_line=relay.line, on_tick=relay.tick
        )
    except _IgnoredCancel:
        rc, killed = -signal.SIGKILL, True
    relay.write()
    return Outcome(
        rc=rc, log_path=log_path, result=relay.result, error=relay.error,
        cancel_sent=relay.cancel_sent is not None, killed=killed,
    )  # fmt: skip


def child_rows(
    job: WorkerJob,
    command: str,
    config: dict[str, Any],
    rows: list[dict[str, Any]],
    *,
    on_progress: OnProgress = _no_progress,
    stoppable: bool = True,
    env: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """`python -m training.ml <command>` (generate, score) on `rows`: its output rows.
    JobStopped if it stopped for a cancel, ChildFailed if it failed."""
    with tempfile.TemporaryDirectory(prefix=f"chorus-job-{job.pk}-") as tmp:
        work = Path(tmp)
        (work / "config.json").write_text(json.dumps(config))
        with open(work / "data.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(row) + "\n" for row in rows)
        args = [command, "--config", str(work / "config.json"), "--data", str(work / "data.jsonl")]
        outcome = run_child(
            job, ml_command([*args, "--output-dir", str(work)]), work_dir=work,
            log_name="child.log", env=env, on_progress=on_progress, stoppable=stoppable,
        )  # fmt: skip
        result = outcome.result
        if outcome.killed or (outcome.succeeded and result and result.get("cancelled")):
            raise JobStopped
        if not outcome.succeeded or not (result and result.get("output")):
            raise ChildFailed(outcome.failure("child process"))
        with open(result["output"], encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
