"""Where a user may point the server: every model a researcher names (a run's base model, a
generation job's source model) is either a directory inside CHORUS_MODEL_ROOTS or a Hugging Face
hub id. One home for the rule (issue 10, item 2).

- A local path (absolute, or relative to the project root where the trainer runs, or starting
  with `.`/`~`) is resolved with `os.path.realpath` first, so neither `..` nor a symlink can lead
  outside the roots; it must then be a directory inside one of them.
- Anything else must be a hub id by the Hub's grammar (`name` or `org/name`: letters, digits,
  `-`, `_`, `.`; no `--` or `..`; at most 96 characters per part).
- Caches and artifacts are never named by users: a run writes only in its own directory.

    >>> is_hub_id("Qwen/Qwen2.5-0.5B-Instruct"), is_hub_id("../../etc"), is_hub_id("/etc")
    (True, False, False)
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError

_HUB_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
HUB_ID = re.compile(rf"^(?:{_HUB_PART}/)?{_HUB_PART}$")


def is_hub_id(value: str) -> bool:
    """Whether `value` is a valid Hugging Face repository id (not a path)."""
    return bool(HUB_ID.match(value)) and ".." not in value and "--" not in value


def model_roots() -> list[str]:
    """The configured roots, resolved (symlinks followed)."""
    return [os.path.realpath(os.path.expanduser(str(root))) for root in settings.CHORUS_MODEL_ROOTS]


def inside_roots(path: str | Path) -> bool:
    """Whether `path`, after realpath, is one of the roots or lies under one."""
    real = os.path.realpath(path)
    return any(
        real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in model_roots()
    )


def _local_candidate(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(settings.BASE_DIR) / path


def model_resolve(value: str, *, field: str = "base_model") -> str:
    """The model a user named, as the trainer or generator will load it: an absolute real path
    inside CHORUS_MODEL_ROOTS, or a hub id. ValidationError on `field` otherwise."""
    value = value.strip()
    if not value or "\x00" in value:
        raise ValidationError({field: "Name a model directory or a Hugging Face id."})
    local = _local_candidate(value)
    looks_local = value.startswith(("/", ".", "~")) or value.count("/") > 1 or "\\" in value
    if looks_local or local.is_dir():
        real = os.path.realpath(local)
        if not inside_roots(real):
            raise ValidationError(
                {field: f"{value[:200]} is outside the model directories (CHORUS_MODEL_ROOTS)."}
            )
        if not os.path.isdir(real):
            raise ValidationError({field: f"{value[:200]} is not a directory on this server."})
        return real
    if not is_hub_id(value):
        raise ValidationError(
            {
                field: f"{value[:200]!r} is neither a model directory nor a Hugging Face id (org/name)."
            }
        )
    return value
