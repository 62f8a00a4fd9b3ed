"""Running a generation job's child process: `python -m training.ml generate|score` on rows
written to a temporary directory (training/launch.py starts and watches it, as for training
runs), its progress relayed to the job, its output rows read back once it has succeeded.

- `child_run`: the child's output rows; `JobStopped` if it stopped for a cancel, `ChildFailed`
  (the child's message and the last lines of its log) if it failed.
- `done` (offset + the child's rows done) is written at most every PROGRESS_SECONDS, a heartbeat
  at least every HEARTBEAT_SECONDS; every CANCEL_POLL_SECONDS the worker looks whether the job
  was cancelled or failed by the stale sweep, and if so writes the file CANCEL for the child,
  which stops after its batch and writes nothing.
- The endpoint's API key reaches the child through its environment, never a file.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from training.launch import exit_reason, launch, log_tail, supervise
from training.models import GenerationJob, RunStatus
from training.services import (
    CANCEL_FILE,
    CANCEL_GRACE_SECONDS,
    CANCEL_POLL_SECONDS,
    HEARTBEAT_SECONDS,
    LOG_TAIL_LINES,
    PROGRESS_SECONDS,
)

logger = logging.getLogger(__name__)

LOG_FILE = "child.log"
API_KEY_ENV = "CHORUS_INFERENCE_API_KEY"  # how the child gets the endpoint's key (not on disk)


class JobStopped(Exception):
    """The job was cancelled, or failed by the stale sweep, while it ran: stop at this batch."""


class ChildFailed(Exception):
    """`python -m training.ml generate|score` failed; the message says why (it goes in `error`)."""


def _stopping(job_id: int) -> bool:
    """The job was cancelled, or is no longer running (failed by the stale sweep)."""
    job = GenerationJob.objects.filter(pk=job_id).values("status", "cancel_requested").first()
    return job is None or job["status"] != RunStatus.RUNNING or job["cancel_requested"]


def beat(job_id: int, stop: bool = True, **fields: Any) -> None:
    """Heartbeat (and progress `fields`); raises JobStopped if `stop` and the job should stop."""
    GenerationJob.objects.filter(pk=job_id, status=RunStatus.RUNNING).update(
        heartbeat_at=timezone.now(), **fields
    )
    if stop and _stopping(job_id):
        raise JobStopped


class _Relay:
    """One child's JSON lines: `done` (offset + rows done; None: not counted) written throttled,
    a heartbeat, and the CANCEL file once the job should stop (if `stoppable`)."""

    def __init__(self, job_id: int, work: Path, offset: int | None, stoppable: bool):
        self.job_id, self.work, self.offset, self.stoppable = job_id, work, offset, stoppable
        self.result: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.done: int | None = None
        self.cancel_sent: float | None = None  # when the CANCEL file was written
        self.last_write, self.next_poll = -math.inf, 0.0

    def line(self, text: str) -> None:
        try:
            event = json.loads(text)
        except json.JSONDecodeError:
            logger.warning("job %s: child printed a non-JSON line: %.200s", self.job_id, text)
            return
        kind = event.pop("event", None) if isinstance(event, dict) else None
        if kind == "result":
            self.result = event
        elif kind == "error":
            self.error = event
        elif kind == "progress" and self.offset is not None:
            self.done = self.offset + int(event.get("step", 0))

    def tick(self) -> None:
        now = time.monotonic()
        since = now - self.last_write
        if (self.done is not None and since >= PROGRESS_SECONDS) or since >= HEARTBEAT_SECONDS:
            fields = {} if self.done is None else {"done": self.done}
            beat(self.job_id, stop=False, **fields)
            self.done, self.last_write = None, now
        if self.stoppable and self.cancel_sent is None and now >= self.next_poll:
            self.next_poll = now + CANCEL_POLL_SECONDS
            if _stopping(self.job_id):
                (self.work / CANCEL_FILE).touch()
                self.cancel_sent = now
        elif self.cancel_sent is not None and now - self.cancel_sent > CANCEL_GRACE_SECONDS:
            # A child that ignores CANCEL this long (stuck loading a model, say) is killed:
            # raising here makes `supervise` kill it, and the job ends as stopped.
            logger.warning(
                "job %s: child ignored CANCEL for %.0f s; killing it",
                self.job_id,
                now - self.cancel_sent,
            )
            raise JobStopped

    def failure(self, rc: int) -> str:
        what = "child process"
        if rc >= 0 and self.error:
            why = f"The {what} stopped ({self.error.get('kind', 'internal')} error): {self.error.get('message')}"
        else:
            why = exit_reason(rc, what)
        tail = log_tail(self.work / LOG_FILE, LOG_TAIL_LINES)
        return why + (f"\n\nLast lines of its log:\n{tail}" if tail else "")


def ml_command(args: list[str]) -> list[str]:
    """The child's command line."""
    return [sys.executable, "-m", "training.ml", *args]


def ml_run(
    args: list[str],
    *,
    log_path: Path,
    env: dict[str, str],
    on_line: Callable[[str], None],
    on_tick: Callable[[], None],
) -> int:
    """Run `python -m training.ml <args>` as a child of the worker, relaying its lines; its exit
    status."""
    proc = launch(ml_command(args), cwd=settings.BASE_DIR, log_path=log_path, env=env)
    return supervise(proc, on_line, on_tick)


def child_run(
    job_id: int,
    command: str,
    config: dict[str, Any],
    rows: list[dict[str, Any]],
    *,
    offset: int | None = None,
    stoppable: bool = True,
    env: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """`python -m training.ml <command>` on `rows`: its output rows. JobStopped if it stopped for
    a cancel, ChildFailed if it failed."""
    with tempfile.TemporaryDirectory(prefix=f"chorus-job-{job_id}-") as tmp:
        work = Path(tmp)
        (work / "config.json").write_text(json.dumps(config))
        with open(work / "data.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(row) + "\n" for row in rows)
        relay = _Relay(job_id, work, offset, stoppable)
        args = [command, "--config", str(work / "config.json"), "--data", str(work / "data.jsonl")]
        rc = ml_run(
            [*args, "--output-dir", str(work)], log_path=work / LOG_FILE, env=env or {},
            on_line=relay.line, on_tick=relay.tick,
        )  # fmt: skip
        result = relay.result
        if rc == 0 and result is not None and result.get("cancelled"):
            raise JobStopped
        if rc != 0 or result is None or not result.get("output"):
            raise ChildFailed(relay.failure(rc))
        with open(result["output"], encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
