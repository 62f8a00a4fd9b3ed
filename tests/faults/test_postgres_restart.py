"""PostgreSQL restarts while labelers submit through gunicorn (production settings, 2 workers):
JSON 503s with Retry-After during the outage, recovery without restarting the app, and every
judgment stored exactly once (0 lost, 0 duplicated).

The cluster is a throwaway one made here with initdb in a temporary folder, on a free loopback
port (never the shared server). Run as root, initdb refuses to run, so the cluster is made and
run as the `postgres` user through `runuser`; the test is skipped when none of that is possible.
Labelers resend a judgment with the same client_key after a 503 or a dropped connection, as the
workbench does; the server stores it once.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

from tests.faults.conftest import ROOT, free_port, wait_until
from tests.faults.seed import PASSWORD

pytestmark = pytest.mark.slow

LABELERS, ITEMS = 4, 6


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    return found[-1] or None


class Cluster:
    def __init__(self, bindir: Path, folder: Path, port: int, as_user: list[str]):
        self.bindir, self.folder, self.port, self.as_user = bindir, folder, port, as_user
        self.data = folder / "data"

    def _run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.as_user, *argv], capture_output=True, text=True, timeout=timeout, check=True
        )

    def init(self) -> None:
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "--no-sync", "-E", "UTF8", timeout=120,
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"),
            "-o", options, "-w", "-t", "60", "start", timeout=90,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop",
            timeout=60,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    initdb = _bin("initdb")
    if not initdb:
        pytest.skip("initdb not found (/usr/lib/postgresql/*/bin): no throwaway PostgreSQL")
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="chorus-faults-pg-"))
    if os.geteuid() == 0:  # initdb refuses root: make and run the cluster as `postgres`
        runuser = shutil.which("runuser")
        try:
            import pwd

            account = pwd.getpwnam("postgres")
        except KeyError:
            account = None
        if not runuser or account is None:
            shutil.rmtree(folder, ignore_errors=True)
            pytest.skip("running as root without runuser or a postgres user: initdb refuses root")
        os.chown(folder, account.pw_uid, account.pw_gid)
        as_user = [runuser, "-u", "postgres", "--"]
    server = Cluster(Path(initdb).parent, folder, free_port(), as_user)
    try:
        server.init()
        server.start()
        yield server
    finally:
        try:
            server.stop("immediate")
        except Exception:  # noqa: BLE001 (already stopped)
            pass
        shutil.rmtree(folder, ignore_errors=True)


def _env(cluster: Cluster, var: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CHORUS_DEBUG": "0",
        "CHORUS_SECURE": "0",  # plain HTTP on loopback; otherwise the production settings
        "CHORUS_SECRET_KEY": "a-production-like-secret-for-this-test-only",
        "CHORUS_ALLOWED_HOSTS": "127.0.0.1",
        "CHORUS_VAR_DIR": str(var),
        "DATABASE_URL": cluster.url,
        "CELERY_BROKER_URL": "",
    }


class Labeler(threading.Thread):
    """Log in, then take the next item and judge it until none is left; resend after a 503."""

    def __init__(self, base: str, project: int, name: str, deadline: float):
        super().__init__(daemon=True)
        self.base, self.project, self.name, self.deadline = base, project, name, deadline
        self.http = requests.Session()
        self.acked: dict[str, int] = {}  # client_key -> item
        self.unavailable: list[requests.Response] = []  # every 503
        self.bad: list[str] = []  # anything else that is not a success
        self.error: BaseException | None = None

    def _send(self, method: str, path: str, **kwargs) -> requests.Response:  # noqa: ANN003
        """The request, resent after a 503 or a dropped connection until it gets an answer."""
        while time.monotonic() < self.deadline:
            try:
                response = self.http.request(method, self.base + path, timeout=15, **kwargs)
            except requests.ConnectionError:
                time.sleep(0.1)
                continue
            if response.status_code != 503:
                return response
            self.unavailable.append(response)
            time.sleep(0.1)
        raise TimeoutError(f"{self.name}: no answer to {method} {path} before the deadline")

    def run(self) -> None:
        try:
            self._login()
            while True:
                response = self._send("GET", f"/api/label/projects/{self.project}/next/")
                if response.status_code != 200:
                    self.bad.append(f"next: {response.status_code} {response.text[:200]}")
                    return
                item = response.json()["item"]
                if item is None:
                    return
                key = str(uuid.uuid4())
                token = self.http.cookies.get("csrftoken", "")
                response = self._send(
                    "POST",
                    f"/api/label/items/{item['id']}/judgments/",
                    json={"client_key": key, "choice": 1},
                    headers={"X-CSRFToken": token, "Referer": self.base + "/"},
                )
                if response.status_code in (200, 201):
                    self.acked[key] = item["id"]
                else:
                    self.bad.append(f"judgment: {response.status_code} {response.text[:200]}")
                    return
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            self.error = exc

    def _login(self) -> None:
        self._send("GET", "/accounts/login/")
        response = self._send(
            "POST",
            "/accounts/login/",
            data={
                "username": self.name,
                "password": PASSWORD,
                "csrfmiddlewaretoken": self.http.cookies.get("csrftoken", ""),
            },
            headers={"Referer": self.base + "/accounts/login/"},
            allow_redirects=False,
        )
        assert response.status_code == 302, (self.name, response.status_code, response.text[:300])


def _manage(env: dict[str, str], *argv: str, timeout: float = 240) -> str:
    done = subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _count(cluster: Cluster, sql: str) -> list[tuple[str, ...]]:
    psql = str(cluster.bindir / "psql")
    done = subprocess.run(
        [psql, "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "-At", "-F", "|",
         "-c", sql],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return [tuple(line.split("|")) for line in done.stdout.splitlines() if line]


def test_a_postgres_restart_while_labelers_submit_loses_and_duplicates_nothing(cluster, tmp_path):
    server = cluster
    env = _env(server, tmp_path)
    _manage(env, "manage.py", "migrate", "--noinput")
    seeded = json.loads(
        _manage(env, "-m", "tests.faults.seed", str(LABELERS), str(ITEMS)).splitlines()[-1]
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--threads", "4", "--timeout", "60"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_until(lambda: _healthy(base), 60, "gunicorn to answer /healthz")
        deadline = time.monotonic() + 150
        labelers = [Labeler(base, seeded["project"], name, deadline) for name in seeded["labelers"]]
        for labeler in labelers:
            labeler.start()
        wait_until(
            lambda: sum(len(lab.acked) for lab in labelers) >= LABELERS,
            60,
            "the first judgments",
        )
        server.stop("immediate")  # a crash, mid-submission
        try:
            wait_until(
                lambda: sum(len(lab.unavailable) for lab in labelers) >= LABELERS,
                30,
                "labelers to be told 503 during the outage",
            )
            health = requests.get(base + "/healthz", timeout=10)
            assert health.status_code == 503 and health.json()["database"].startswith("down")
        finally:
            server.start()
        for labeler in labelers:
            labeler.join(timeout=max(1.0, deadline - time.monotonic()))
        assert web.poll() is None, "gunicorn died"  # recovered without a restart
        assert requests.get(base + "/healthz", timeout=10).status_code == 200
    finally:
        web.terminate()
        _, log = web.communicate(timeout=30)
    for labeler in labelers:
        assert labeler.error is None, (labeler.name, repr(labeler.error), log[-3000:])
        assert not labeler.bad, (labeler.name, labeler.bad)
        assert not labeler.is_alive()
    replies = [r for lab in labelers for r in lab.unavailable]
    assert replies, "the outage was not seen"
    for reply in replies:  # JSON for the API; a labeler still logging in gets the short page
        assert reply.headers["Retry-After"] and reply.status_code == 503
        if urlparse(reply.url).path.startswith("/api/"):
            assert reply.headers["Content-Type"] == "application/json", reply.text[:300]
            assert "database" in reply.json()["detail"]
        else:
            assert "The database is unavailable" in reply.text, reply.text[:300]
    assert any(urlparse(r.url).path.startswith("/api/") for r in replies)
    acked = {key for lab in labelers for key in lab.acked}
    assert len(acked) == LABELERS * ITEMS  # every labeler judged every item
    rows = _count(
        server,
        "SELECT j.client_key, u.username, j.item_id FROM annotation_judgment j "
        "JOIN auth_user u ON u.id = j.labeler_id",
    )
    stored = {key.replace("-", "") for key, _, _ in rows}
    assert len(rows) == len(stored) == LABELERS * ITEMS  # 0 duplicated
    assert {key.replace("-", "") for key in acked} == stored  # 0 lost
    assert len({(user, item) for _, user, item in rows}) == len(rows)


def _healthy(base: str) -> bool:
    try:
        return requests.get(base + "/healthz", timeout=5).status_code == 200
    except requests.ConnectionError:
        return False
