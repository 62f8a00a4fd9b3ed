"""`make run` keeps the app up when the worker dies (issue 10, item 9).

Before: chorus_start waited until *any* child exited and then stopped the others, so a worker
killed by the OOM killer or a broker crash took gunicorn down with it, without a word. Now
config/supervisor.py restarts the dead program, says so, and stops everything on Ctrl-C.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from config.supervisor import Program, Supervisor
sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
Supervisor([Program("worker", sleeper), Program("web", sleeper)], out=sys.stdout,
           min_backoff=0.1, grace=5).run(on_started=lambda: print("[chorus] running", flush=True))
"""


class Output:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._pump, args=(proc,), daemon=True)
        self._thread.start()

    def _pump(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line)

    def close(self, proc: subprocess.Popen[str]) -> None:
        self._thread.join(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()

    def wait(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := re.search(pattern, line):
                    return match
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r}:\n{''.join(self.lines)}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_killed_worker_is_restarted_with_a_message_and_ctrl_c_stops_everything():
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = Output(proc)
    try:
        out.wait(r"running")
        worker = int(out.wait(r"started worker \(pid (\d+)\)").group(1))
        web = int(out.wait(r"started web \(pid (\d+)\)").group(1))
        os.kill(worker, signal.SIGKILL)
        out.wait(r"worker exited with code -9, restarting")
        restarted = out.wait(rf"started worker \(pid (?!{worker}\))(\d+)\)")
        new_worker = int(restarted.group(1))
        assert _alive(new_worker) and _alive(web), "the web server must survive the worker"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        out.wait(r"stopped")
        assert not _alive(new_worker) and not _alive(web)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close(proc)
