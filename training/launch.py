"""Running `python -m training.ml ...` as a child of the worker, for training runs
(services.py) and generation jobs (services_loop.py).

A crash or an out-of-memory kill of the child ends the run or job, not the worker, and frees GPU
memory; on Linux the child is killed if the worker dies (PR_SET_PDEATHSIG). The child's stdout
carries JSON lines (training/ml/__main__.py), handed one by one to `on_line`; its stderr goes to
a log file whose last lines explain a failure. `on_tick` runs after every line and at least every
half second: the caller writes progress and heartbeats there and looks for a cancel request.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

TICK_SECONDS = 0.5


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def launch(
    command: list[str], *, cwd: str | Path, log_path: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start `command` in its own session, stdout piped, stderr appended to `log_path`."""
    full_env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "TOKENIZERS_PARALLELISM": "false",
        **(env or {}),
    }
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )


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


def log_tail(path: Path, lines: int = 20) -> str:
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
