"""ConfigError, and the one-line field check every config's ``__post_init__`` runs.

Standard library only, like the whole package: the web process imports it.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration is invalid; the message names the class and the field (``field``, when
    one field is to blame, so the web side can name it in a 400)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# No integer config field may exceed this (loading.INT_BOUNDS sets lower bounds per field).
INT_MAX = 2**31 - 1


def _check(config: object, bad: bool, name: str, message: str) -> None:
    if bad:
        value = getattr(config, name)
        raise ConfigError(
            f"{type(config).__name__}: field {name!r} {message}, got {value!r:.60}", name
        )
