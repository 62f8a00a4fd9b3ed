"""A decompression bomb uploaded for a background import: the real worker reads it in bounded
chunks, stops at the line cap with a located error, imports nothing, and its memory stays flat
(the peak resident size of the process that ran the job is reported and bounded)."""

from __future__ import annotations

import gzip

import psutil
import pytest

from annotation.models import ImportFormat, ImportJob, Item, JobStatus
from tests.worker import wait_for_row

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

GIB = 2**30
BLOCK = 64 * 2**20


def _bomb(size: int) -> bytes:
    """One JSON line of `size` bytes, as concatenated gzip members (read as one stream)."""
    block = gzip.compress(b"A" * BLOCK, compresslevel=9, mtime=0)
    head = gzip.compress(b'{"chosen": "\\n\\nHuman: hi\\n\\nAssistant: ', mtime=0)
    tail = gzip.compress(b'", "rejected": "\\n\\nHuman: hi\\n\\nAssistant: no"}\n', mtime=0)
    return head + block * (size // BLOCK) + tail


def _peak_rss_mib(pid: int) -> float:
    """The largest peak resident size (VmHWM) of `pid` and its children, in MiB."""
    parent = psutil.Process(pid)
    peaks = []
    for proc in [parent, *parent.children(recursive=True)]:
        with open(f"/proc/{proc.pid}/status") as status:
            line = next(x for x in status if x.startswith("VmHWM:"))
        peaks.append(int(line.split()[1]) / 1024)
    return max(peaks)


def test_a_decompression_bomb_fails_cleanly_with_bounded_memory(
    celery_worker_process, project, researcher, settings, capsys
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotation.services.imports import import_job_create

    settings.CHORUS_IMPORT_INLINE_MAX_BYTES = 0  # the worker's path
    payload = _bomb(GIB)  # about 1 MiB on the wire, 1 GiB inflated, one line
    assert len(payload) < 2 * 2**20
    before = _peak_rss_mib(celery_worker_process.proc.pid)
    job = import_job_create(
        project=project,
        fmt=ImportFormat.HH_RLHF,
        upload=SimpleUploadedFile("bomb.jsonl.gz", payload),
        created_by=researcher,
    )
    ended = [JobStatus.SUCCEEDED, JobStatus.FAILED]
    done = wait_for_row(ImportJob, job.pk, celery_worker_process, status__in=ended)
    peak = _peak_rss_mib(celery_worker_process.proc.pid)
    with capsys.disabled():
        print(f"\nbomb of 1 GiB: worker peak RSS {before:.0f} MiB before, {peak:.0f} MiB after")
    assert done.status == JobStatus.FAILED
    assert done.error.startswith("line 1: longer than"), done.error
    assert Item.objects.filter(project=project).count() == 0
    assert peak < before + 128, f"the worker grew from {before:.0f} to {peak:.0f} MiB"
