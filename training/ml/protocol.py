"""What the worker (training/worker.py, the Django side) and its child process (`python -m
training.ml ...`, this package) say to each other. Standard library only: both sides import it.

- The child writes JSON lines to stdout, one per event (``emit``); the worker reads them back
  (``parse``):

      {"event": "progress", "step": 3, "total_steps": 40, ...}
      {"event": "result", ...}            the last line of a child that finished or was cancelled
      {"event": "error", "kind": "config"|"data"|"internal", "message": "..."}

- The worker asks the child to stop by creating the file ``CANCEL_FILE`` in the child's output
  directory; the child checks for it once per step (trainers) or batch (generate, score).
- An inference endpoint's API key reaches the child in the environment variable ``API_KEY_ENV``,
  never in a file.

    >>> import io
    >>> out = io.StringIO()
    >>> emit(out, PROGRESS, {"step": 1, "total_steps": 2})
    >>> parse(out.getvalue())
    ('progress', {'step': 1, 'total_steps': 2})
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, TextIO

PROGRESS, RESULT, ERROR = "progress", "result", "error"  # the event names
CANCEL_FILE = "CANCEL"  # created in the child's output directory: stop at the next step
# How the child gets its one endpoint's key (never on the command line or on disk); the worker
# reads it from the variable the admin's InferenceEndpoint names and sets it for that child only.
API_KEY_ENV = "CHORUS_CHILD_ENDPOINT_KEY"


def emit(out: TextIO, event: str, payload: dict[str, Any]) -> None:
    """Write one event line (on the main process only, when several are launched)."""
    if os.environ.get("RANK", "0") == "0":
        out.write(json.dumps({"event": event, **payload}, default=str) + "\n")
        out.flush()


def parse(line: str) -> tuple[str, dict[str, Any]] | None:
    """(event name, payload) of one line; None if it is not an event line."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        return None
    event = data.pop("event")
    return event, data


@dataclass(frozen=True)
class Generated:
    """One completion, as the generate child writes it (a line of generated.jsonl)."""

    prompt_index: int  # index into the prompts given
    sample: int  # 0..K-1
    text: str  # the completion, special tokens and a trailing HH turn removed
    tokens: int  # completion tokens generated (the endpoint's count on the HTTP path)
    finished: bool  # it ended by itself (EOS / stop), not at max_new_tokens
