"""The fault suite (issue 10): real processes on loopback, killed and restarted on purpose.

Every test here is `slow`, bounded (each wait has a deadline) and starts its own throwaway
servers on free loopback ports: a `redis-server` with no persistence, a PostgreSQL cluster made
with `initdb` in a temporary folder. The shared servers (Redis 6379, PostgreSQL 5432) are never
touched. Thresholds are shortened through the environment of the processes started here.

The decompression bomb (test_import_bomb.py) goes through a real worker with the upload caps of
issue 10 item 5: a located error, nothing imported, the peak RSS reported and bounded.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

from tests.training.conftest import groups, preference_project, tiny_base_model  # noqa: F401


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):  # noqa: ANN001, ANN201
    """Poll `predicate` until it is truthy, or fail after `timeout` seconds saying `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class RedisServer:
    """A throwaway redis-server on a free loopback port, nothing saved: a kill loses its data."""

    def __init__(self, binary: str, port: int):
        self.binary, self.port = binary, port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(self._answers, 20, f"redis-server on port {self.port}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if not binary:
        pytest.skip("redis-server is not installed: the broker fault needs a throwaway one")
    server = RedisServer(binary, free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def api(researcher):
    client = Client()
    client.force_login(researcher)
    return client


@pytest.fixture
def judged(researcher, labeler, other_labeler, groups):  # noqa: F811
    return preference_project(researcher, [labeler, other_labeler], n=12)


def create_run(api, project, base_model, **hyperparameters):  # noqa: ANN001, ANN003, ANN201
    """A tiny reward run through the API (as tests/training/worker does); returns the response."""
    payload = {
        "kind": "reward",
        "name": "tiny reward model",
        "base_model": base_model,
        "projects": [project.pk],
        "hyperparameters": {
            "batch_size": 4,
            "eval_fraction": 0.4,
            "learning_rate": 1e-3,
            **hyperparameters,
        },
    }
    return api.post("/api/training/runs/", payload, content_type="application/json")


ROOT = Path(__file__).resolve().parents[2]
