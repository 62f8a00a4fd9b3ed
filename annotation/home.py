"""What the home dashboard shows from apps that annotation may not import.

annotation never imports training (the import-linter contracts in pyproject.toml), yet a
researcher's home lists recent training runs and an admin's lists failed training jobs and lost
workers. So training registers its readers here when Django starts (training/apps.py), and the
home view asks for them by name; with none registered the dashboard simply leaves them out.

Readers enforce nothing themselves: the home view calls them only for the roles that may see
what they return (never for labelers: runs name models).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

RECENT_RUNS = "recent_runs"  # reader(limit) -> list[HomeRun], newest first
ALERTS = "alerts"  # reader() -> list[Alert]: things an admin should act on

_readers: dict[str, Callable[..., list[Any]]] = {}


@dataclass(frozen=True)
class HomeRun:
    """A training run as the researcher's home lists it."""

    title: str
    kind: str
    status: str  # the status value, for the badge's class
    status_label: str
    progress_percent: int
    created_at: datetime
    url: str


@dataclass(frozen=True)
class Alert:
    """Something an admin should look at, with where to act on it."""

    level: str  # "error" (something failed) or "warning" (something will go wrong)
    title: str
    detail: str
    url: str = ""


def home_reader_register(name: str, reader: Callable[..., list[Any]]) -> None:
    _readers[name] = reader


def home_read(name: str, *args: Any) -> list[Any]:
    """What the reader registered under `name` returns, or [] when none is."""
    reader = _readers.get(name)
    return reader(*args) if reader is not None else []
