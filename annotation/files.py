"""Files written whole or not at all.

`atomic_text_file(path)` writes into a hidden temporary file beside `path` and moves it into
place with os.replace only when the block ends without an error; on any error the temporary
file is removed, so a reader never sees a partial file and a failed write leaves nothing.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


@contextlib.contextmanager
def atomic_text_file(path: Path) -> Iterator[TextIO]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def os_error_reason(exc: OSError) -> str:
    """A short reason for a failed file operation, without paths: 'No space left on device'."""
    return exc.strerror or type(exc).__name__
