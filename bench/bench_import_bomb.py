"""Decompression bomb benchmark: a small gzip that inflates to gigabytes, imported.

Builds the bomb streaming (one compressed block of 64 MiB, repeated as gzip members, so even
a 4 GiB bomb is written in a second), then runs it through the import path twice: the parse
pass alone (`items_import`, what the web request runs for small uploads) and the job runner
(`import_run`, what the Celery worker runs). Prints the error each one gives, the time and the
peak RSS. Goal: a clear `line N: ...` error and a peak RSS that does not grow with the bomb.

  --shape line   one JSON line of the whole size (stops at CHORUS_MAX_LINE_BYTES)
  --shape lines  many valid 256 KiB lines (stops at CHORUS_MAX_IMPORT_BYTES, set to 1 GiB here)

Run: .venv/bin/python bench/bench_import_bomb.py [--gib 3] [--shape line|lines]
"""

import argparse
import gzip
import json
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--gib", type=float, default=3.0, help="decompressed size in GiB")
parser.add_argument("--shape", choices=("line", "lines"), default="line")
args = parser.parse_args()
if args.shape == "lines":
    os.environ.setdefault("CHORUS_MAX_IMPORT_BYTES", str(2**30))

from _django import rss_mib, setup  # noqa: E402

setup()

from django.conf import settings  # noqa: E402
from django.core.files import File  # noqa: E402
from django.db import connections  # noqa: E402

from annotation.formats.base import ImportFileError  # noqa: E402
from annotation.models import ImportJob, Item  # noqa: E402
from annotation.services.imports import import_run, items_import  # noqa: E402
from annotation.services.projects import project_create  # noqa: E402

BLOCK = 64 * 2**20


def member(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def build(path: Path, total: int, shape: str) -> None:
    """Write the bomb: gzip members concatenated (gzip readers read them as one stream)."""
    with open(path, "wb") as out:
        if shape == "line":
            out.write(member(b'{"chosen": "\\n\\nHuman: hi\\n\\nAssistant: '))
            block = member(b"A" * BLOCK)
            tail = member(b'", "rejected": "\\n\\nHuman: hi\\n\\nAssistant: no"}\n')
        else:
            line = json.dumps(
                {
                    "chosen": "\n\nHuman: hi\n\nAssistant: " + "A" * (2**18 - 100),
                    "rejected": "\n\nHuman: hi\n\nAssistant: no",
                }
            ).encode()
            block = member((line + b"\n") * (BLOCK // (len(line) + 1)))
            tail = b""
        for _ in range(max(1, total // BLOCK)):
            out.write(block)
        out.write(tail)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


folder = Path(tempfile.mkdtemp(prefix="chorus-bomb-"))
bomb = folder / "bomb.jsonl.gz"
t0 = time.perf_counter()
build(bomb, int(args.gib * 2**30), args.shape)
print(
    f"bomb: {bomb.stat().st_size / 2**20:.1f} MiB gzip -> {args.gib:g} GiB decompressed "
    f"({args.shape}), built in {time.perf_counter() - t0:.1f} s"
)
print(
    f"caps: line {settings.CHORUS_MAX_LINE_BYTES} B, decompressed "
    f"{settings.CHORUS_MAX_IMPORT_BYTES} B, upload {settings.CHORUS_MAX_UPLOAD_BYTES} B"
)
project = project_create(name="bomb", kind="pairwise", guidelines="g")
job = ImportJob(project=project, format="hh_rlhf", original_name="bomb.jsonl.gz")
with open(bomb, "rb") as handle:
    job.file.save("bomb.jsonl.gz", File(handle))


def parse_pass() -> str:
    try:
        items_import(project=project, path=bomb, fmt="hh_rlhf")
    except ImportFileError as exc:
        return str(exc)
    return "none (imported!)"


def job_runner() -> str:
    import_run(job_id=job.pk)
    job.refresh_from_db()
    return f"{job.status}: {job.error}"


def measured(name: str, work: Callable[[], str]) -> None:
    """Run `work` in a forked child, so its peak RSS is the import's, not the setup's."""
    connections.close_all()
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        started, before = time.perf_counter(), rss_mib()
        result = work()
        line = f"{result!r} in {time.perf_counter() - started:.2f} s, RSS at start {before:.0f} MiB"
        os.write(writer, f"{line}, peak {peak_mib():.0f} MiB".encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        report = pipe.read()
    os.waitpid(pid, 0)
    print(f"{name}: {report}")


measured("items_import (parse pass, web request)", parse_pass)
measured("import_run (the job, Celery worker)", job_runner)
print(f"items in the project: {Item.objects.filter(project=project).count()}")
