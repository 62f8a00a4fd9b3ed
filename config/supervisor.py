"""A small process supervisor for `make run`: the web server and the worker, kept alive together.

Each program runs in its own process group. When one exits while the supervisor is running, the
supervisor says so ("worker exited with code -9, restarting") and starts it again, waiting a
little longer after each quick crash so a broken program does not spin. Ctrl-C (SIGINT) or
SIGTERM stops everything: SIGTERM to each group, then SIGKILL to what is still there after the
grace period. No Django import: it supervises any command line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class Program:
    name: str
    argv: Sequence[str]
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    started_at: float = 0.0
    backoff: float = 0.0


class Supervisor:
    def __init__(
        self,
        programs: Sequence[Program],
        *,
        out: TextIO | None = None,
        min_backoff: float = 1.0,
        max_backoff: float = 30.0,
        stable_after: float = 30.0,
        grace: float = 30.0,
    ) -> None:
        self.programs = list(programs)
        self.out = out or sys.stderr
        self.min_backoff, self.max_backoff = min_backoff, max_backoff
        self.stable_after, self.grace = stable_after, grace
        self._stop = threading.Event()

    def say(self, message: str) -> None:
        self.out.write(f"[chorus] {message}\n")
        self.out.flush()

    def _start(self, program: Program) -> None:
        program.process = subprocess.Popen(
            list(program.argv), env=program.env, start_new_session=True
        )
        program.started_at = time.monotonic()
        self.say(f"started {program.name} (pid {program.process.pid})")

    def stop(self, *_: object) -> None:
        self._stop.set()

    def run(self, on_started: Callable[[], None] | None = None) -> int:
        previous = {sig: signal.signal(sig, self.stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for program in self.programs:
                self._start(program)
            if on_started is not None:
                on_started()
            restart_at: dict[str, float] = {}
            while not self._stop.wait(0.2):
                now = time.monotonic()
                for program in self.programs:
                    assert program.process is not None
                    code = program.process.poll()
                    if code is None:
                        if now - program.started_at > self.stable_after:
                            program.backoff = 0.0
                        continue
                    if program.name not in restart_at:
                        quick = now - program.started_at < self.stable_after
                        program.backoff = (
                            min(max(program.backoff * 2, self.min_backoff), self.max_backoff)
                            if quick
                            else 0.0
                        )
                        self.say(
                            f"{program.name} exited with code {code}, restarting"
                            + (f" in {program.backoff:g} s" if program.backoff else "")
                        )
                        restart_at[program.name] = now + program.backoff
                    if now >= restart_at[program.name]:
                        del restart_at[program.name]
                        self._start(program)
            return 0
        finally:
            self._shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _signal_group(self, program: Program, sig: int) -> None:
        if program.process is None:
            return
        try:
            os.killpg(program.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _shutdown(self) -> None:
        self.say("stopping")
        for program in self.programs:
            if program.process is not None and program.process.poll() is None:
                self._signal_group(program, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for program in self.programs:
            if program.process is None:
                continue
            try:
                program.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{program.name} did not stop in {self.grace:g} s, killing it")
            self._signal_group(program, signal.SIGKILL)  # anything left in its group
            program.process.wait()
        self.say("stopped")
