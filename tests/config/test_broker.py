"""The embedded broker survives concurrent producers and consumers (issue 10, item 9).

kombu's own filesystem transport lets a consumer read a message file its producer has created
but not yet written (JSONDecodeError, the worker dies) and, with the system temporary folder on
another filesystem, lets two consumers take the same message. The broker Chorus configures by
default must lose nothing, duplicate nothing and crash no one under load.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from pathlib import Path
from queue import Empty

import pytest
from django.conf import settings
from kombu import Connection

PRODUCERS, CONSUMERS, SECONDS = 4, 4, 2.5


def _options(root: Path) -> dict[str, object]:
    out = str(root / "out")
    return {
        "data_folder_in": out,
        "data_folder_out": out,
        "processed_folder": str(root / "processed"),
        "control_folder": str(root / "control"),
        "store_processed": False,
    }


def _produce(url: str, root: str, index: int, deadline: float, errors) -> None:  # noqa: ANN001
    sent = 0
    try:
        with Connection(url, transport_options=_options(Path(root))) as conn:
            queue = conn.SimpleQueue("stress")
            while time.monotonic() < deadline:
                queue.put({"id": f"{index}-{sent}", "pad": "x" * (sent % 5000)})
                sent += 1
            queue.close()
    except Exception:
        errors.put(traceback.format_exc())
    (Path(root) / f"sent-{index}").write_text(str(sent))


def _consume(url: str, root: str, index: int, done, errors) -> None:  # noqa: ANN001
    got: list[str] = []
    try:
        with Connection(url, transport_options=_options(Path(root))) as conn:
            queue = conn.SimpleQueue("stress")
            while True:
                try:
                    message = queue.get(block=True, timeout=0.05)
                except Empty:
                    if done.is_set():
                        try:  # one last look after the producers stopped
                            message = queue.get(block=False)
                        except Empty:
                            break
                    else:
                        continue
                got.append(message.payload["id"])
                message.ack()
            queue.close()
    except Exception:
        errors.put(traceback.format_exc())
    (Path(root) / f"got-{index}").write_text("\n".join(got))


def test_the_default_embedded_broker_loses_and_duplicates_nothing_under_concurrency(tmp_path):
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("chorusfs:", "filesystem:")):
        pytest.skip("CELERY_BROKER_URL names a server broker; this tests the embedded default")
    for folder in ("out", "processed", "control"):
        (tmp_path / folder).mkdir()
    ctx = multiprocessing.get_context("fork")
    errors, done = ctx.Queue(), ctx.Event()
    deadline = time.monotonic() + SECONDS
    producers = [
        ctx.Process(target=_produce, args=(url, str(tmp_path), i, deadline, errors))
        for i in range(PRODUCERS)
    ]
    consumers = [
        ctx.Process(target=_consume, args=(url, str(tmp_path), i, done, errors))
        for i in range(CONSUMERS)
    ]
    for process in consumers + producers:
        process.start()
    for process in producers:
        process.join(timeout=SECONDS + 30)
    done.set()
    for process in consumers:
        process.join(timeout=30)
    crashes = []
    while not errors.empty():
        crashes.append(errors.get())
    assert crashes == [], crashes[0]
    assert all(p.exitcode == 0 for p in producers + consumers)
    sent = {
        f"{i}-{n}"
        for i in range(PRODUCERS)
        for n in range(int((tmp_path / f"sent-{i}").read_text()))
    }
    received = [
        line
        for i in range(CONSUMERS)
        for line in (tmp_path / f"got-{i}").read_text().splitlines()
        if line
    ]
    assert len(sent) > 100  # the test really exercised the broker
    assert len(received) == len(set(received)), "duplicated messages"
    assert set(received) == sent, f"{len(sent - set(received))} lost"
