"""Imports within caps: line, decompressed and text sizes, JSON depth and integer size.

Every refused file names the line (and field where there is one) and changes nothing."""

import gzip
import json
import tracemalloc

import pytest

from annotation.formats.base import MAX_DEPTH, ImportFileError
from annotation.models import ImportJob, JobStatus
from annotation.services.imports import import_run, items_import
from tests.annotation.services.test_imports import counts, hh_row, write
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def good(i=0, text="hello"):
    return json.dumps({"prompt": f"p{i}", "completions": [text, "b"]})


def refused(tmp_path, content, fmt="chorus", gz=False, project=None):
    project = project or ProjectFactory()
    before = counts()
    with pytest.raises(ImportFileError) as info:
        items_import(project=project, path=write(tmp_path, [], raw=content, gz=gz), fmt=fmt)
    assert counts() == before
    return str(info.value)


def test_a_line_over_the_cap_is_refused_naming_it(tmp_path, settings):
    settings.CHORUS_MAX_LINE_BYTES = 1000
    content = good(1) + "\n" + good(2, "x" * 2000) + "\n"
    assert refused(tmp_path, content) == "line 2: longer than 1000 bytes"


def test_a_last_line_without_newline_over_the_cap_is_refused(tmp_path, settings):
    settings.CHORUS_MAX_LINE_BYTES = 1000
    assert refused(tmp_path, good(1) + "\n\n" + good(3, "x" * 2000)) == (
        "line 3: longer than 1000 bytes"
    )


def test_lines_at_the_cap_and_windows_newlines_import(tmp_path, settings):
    line = good(1)
    settings.CHORUS_MAX_LINE_BYTES = len(line) + 1  # the \r counts
    project = ProjectFactory()
    path = write(tmp_path, [], raw=f"{line}\r\n\n{good(2)}\r\n")
    assert items_import(project=project, path=path, fmt="chorus").items == 2


def test_decompressed_size_over_the_cap_is_refused(tmp_path, settings):
    settings.CHORUS_MAX_IMPORT_BYTES = 200_000  # more than one 64 KiB read
    content = "".join(json.dumps(hh_row(i)) + "\n" for i in range(5000))
    message = refused(tmp_path, content, fmt="hh_rlhf", gz=True)
    assert "larger than 200000 bytes once decompressed" in message
    assert message.startswith("line ")


def test_a_text_over_the_cap_names_line_and_field(tmp_path, settings):
    settings.CHORUS_MAX_TEXT_CHARS = 100
    content = good(1) + "\n" + good(2, "é" * 101) + "\n"
    assert refused(tmp_path, content) == (
        "line 2, field 'completions[0]': longer than 100 characters (101)"
    )


def test_deeply_nested_json_is_a_located_error(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    row = '{"prompt": "p", "completions": ["a", "b"], "x": ' + deep + "}"
    message = refused(tmp_path, good() + "\n" + row + "\n")
    assert message.startswith(f"line 2: JSON nested deeper than {MAX_DEPTH} levels")


def test_brackets_inside_strings_do_not_count_as_nesting(tmp_path):
    project = ProjectFactory()
    text = '[{"\\"' * 500
    path = write(tmp_path, [{"prompt": text, "completions": [text, "b"]}])
    assert items_import(project=project, path=path, fmt="chorus").items == 1


def test_a_5000_digit_integer_names_line_and_field(tmp_path):
    row = (
        '{"prompt": "p", "completions": ["a", "b"], '
        '"judgments": [{"source": "s", "choice": "a", "scale": ' + "9" * 5000 + "}]}"
    )
    assert refused(tmp_path, good() + "\n" + row + "\n") == (
        "line 2, field 'judgments[0].scale': an integer of 5000 digits (at most 30)"
    )


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_refused(tmp_path, number):
    row = (
        '{"prompt": "p", "completions": [{"text": "a", "generation_settings": {"t": '
        + number
        + '}}, "b"]}'
    )
    assert refused(tmp_path, row + "\n").startswith("line 1: ")


def test_the_job_reports_the_located_error_not_an_internal_one(tmp_path, researcher):
    """Through the job runner: `line 1: ...`, never `internal error: RecursionError`."""
    from django.core.files.base import ContentFile

    project = ProjectFactory()
    job = ImportJob(project=project, format="chorus", original_name="deep.jsonl")
    job.file.save("deep.jsonl", ContentFile(("[" * 50_000 + "]" * 50_000 + "\n").encode()))
    import_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("line 1: JSON nested deeper than")


def write_bomb(path, decompressed_bytes, chunk=1 << 20):
    """A gzip whose single line inflates to `decompressed_bytes`, written chunk by chunk."""
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(b'{"chosen": "\\n\\nHuman: hi\\n\\nAssistant: ')
        written = 0
        block = b"A" * chunk
        while written < decompressed_bytes:
            out.write(block)
            written += chunk
        out.write(b'", "rejected": "x"}\n')


def test_a_gzip_bomb_stops_at_the_line_cap_in_bounded_memory(tmp_path, settings):
    """50 MB inflated from a ~50 KB gzip: a clear error, nothing imported, a few MB at most."""
    settings.CHORUS_MAX_LINE_BYTES = 1 << 20
    path = tmp_path / "bomb.jsonl.gz"
    write_bomb(path, 50 << 20)
    assert path.stat().st_size < 200_000
    project = ProjectFactory()
    before = counts()
    tracemalloc.start()
    try:
        with pytest.raises(ImportFileError) as info:
            items_import(project=project, path=path, fmt="hh_rlhf")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(info.value) == "line 1: longer than 1048576 bytes"
    assert counts() == before
    assert peak < 8 << 20, f"peak {peak} bytes"
