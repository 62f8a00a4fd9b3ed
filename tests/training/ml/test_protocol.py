"""The worker and the child share one protocol: event lines, the CANCEL file, the key variable."""

from __future__ import annotations

import io

from training import worker
from training.ml import __main__ as cli
from training.ml import protocol


def test_an_emitted_event_parses_back():
    out = io.StringIO()
    protocol.emit(out, protocol.RESULT, {"output": None, "cancelled": True})
    assert protocol.parse(out.getvalue()) == ("result", {"output": None, "cancelled": True})


def test_lines_that_are_not_events_are_none():
    for line in ("not json", "[1, 2]", '{"step": 1}', '{"event": 3}'):
        assert protocol.parse(line) is None


def test_only_the_main_process_emits(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    out = io.StringIO()
    protocol.emit(out, protocol.PROGRESS, {"step": 1})
    assert out.getvalue() == ""


def test_both_sides_use_the_protocols_names():
    assert cli.CANCEL_FILE is protocol.CANCEL_FILE and cli.API_KEY_ENV is protocol.API_KEY_ENV
    assert worker.protocol is protocol
