"""Imports: all-or-nothing, validated, with errors that name the line and field.

`items_import` reads the file twice: once to validate every line (no database writes, memory
flat, progress reported), then again to write everything inside one transaction: prompts,
completions and items through `services.items` (their only writer), the external judgments that
came with them here. Any problem raises `ImportFileError` and leaves the database as it was.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from annotation.formats import annotators, hh_rlhf, jsonl, oasst, trl
from annotation.formats.base import ImportFileError, Limits, ParsedItem, read_lines
from annotation.models import (
    ImportFormat,
    ImportJob,
    Item,
    JobStatus,
    Judgment,
    JudgmentRank,
    JudgmentSource,
    Project,
    ProjectKind,
)
from annotation.services.external_labelers import external_judgments_write
from annotation.services.items import (
    NewCompletion,
    NewItem,
    NewPrompt,
    completions_create,
    items_create,
    prompts_create,
)
from config.dispatch import dispatch_on_commit

logger = logging.getLogger(__name__)
BATCH = 500
ProgressFn = Callable[[int], None]


@dataclass(frozen=True)
class ImportResult:
    items: int
    judgments: int
    lines: int


def _parser(project: Project, fmt: str) -> Callable[[Any], Iterator[ParsedItem]]:
    parsers: dict[str, Callable[[Any], Iterator[ParsedItem]]] = {
        ImportFormat.CHORUS: jsonl.parse,
        ImportFormat.HH_RLHF: hh_rlhf.parse,
        ImportFormat.TRL: trl.parse,
        ImportFormat.OASST: partial(oasst.parse, max_k=project.ranking_size),
    }
    if fmt not in parsers:
        raise ImportFileError(f"unknown format {fmt!r}; choose one of {', '.join(parsers)}")
    return parsers[fmt]


def _limits() -> Limits:
    return Limits(
        import_bytes=settings.CHORUS_MAX_IMPORT_BYTES, line_bytes=settings.CHORUS_MAX_LINE_BYTES
    )


def _check_fits(project: Project, item: ParsedItem) -> None:
    """Raise ImportFileError, naming the line, if the item does not fit the project's kind."""
    _check_text_sizes(item)
    _check_completions(project, item)
    _check_judgments(project, item)


def _check_text_sizes(item: ParsedItem) -> None:
    """Every prompt turn and completion within CHORUS_MAX_TEXT_CHARS."""
    cap = settings.CHORUS_MAX_TEXT_CHARS
    texts = [(f"prompt[{i}]", t.content) for i, t in enumerate(item.prompt)]
    texts += [(f"completions[{i}]", c.text) for i, c in enumerate(item.completions)]
    for name, text in texts:
        if len(text) > cap:
            raise ImportFileError(
                f"longer than {cap} characters ({len(text)})", line=item.line, field=name
            )


def _check_completions(project: Project, item: ParsedItem) -> None:
    count = len(item.completions)
    if project.kind == ProjectKind.RATING and count != 1:
        raise ImportFileError(
            f"a rating project needs exactly 1 response, got {count}",
            line=item.line,
            field="completions",
        )
    if project.kind == ProjectKind.PAIRWISE and count != 2:
        raise ImportFileError(
            f"a pairwise project needs exactly 2 completions, got {count}",
            line=item.line,
            field="completions",
        )
    models = [c.source_model for c in item.completions]
    if project.kind == ProjectKind.PAIRWISE and models[0] and models[0] == models[1]:
        raise ImportFileError(
            f"the same model {models[0]!r} on both sides: a self-comparison says nothing about "
            "which model is better",
            line=item.line,
            field="completions[1].model",
        )
    if project.kind == ProjectKind.RANKING and not 2 <= count <= project.ranking_size:
        raise ImportFileError(
            f"a ranking project with K={project.ranking_size} needs 2..{project.ranking_size} completions, got {count}",
            line=item.line,
            field="completions",
        )
    if project.kind == ProjectKind.DEMONSTRATION and count:
        raise ImportFileError(
            "a demonstration project takes prompts only, without completions",
            line=item.line,
            field="completions",
        )


def _check_judgments(project: Project, item: ParsedItem) -> None:
    for index, judgment in enumerate(item.judgments):
        if project.kind == ProjectKind.RATING:
            raise ImportFileError(
                "a rating project takes per-annotator ratings (the annotators format)",
                line=item.line,
                field=f"judgments[{index}]",
            )
        if project.kind == ProjectKind.PAIRWISE and not judgment.pairwise_choice:
            raise ImportFileError(
                "a pairwise project needs a choice, not ranks",
                line=item.line,
                field=f"judgments[{index}]",
            )
        if project.kind == ProjectKind.RANKING and not judgment.ranks:
            raise ImportFileError(
                "a ranking project needs ranks, not a choice",
                line=item.line,
                field=f"judgments[{index}]",
            )
        if project.kind == ProjectKind.DEMONSTRATION:
            raise ImportFileError(
                "a demonstration project takes no judgments",
                line=item.line,
                field=f"judgments[{index}]",
            )


def items_import(
    *,
    project: Project,
    path: Path,
    fmt: str,
    on_progress: ProgressFn | None = None,
    mapping: dict[str, Any] | None = None,
    annotators_path: Path | None = None,
    source: str = "",
) -> ImportResult:
    """Validate the whole file, then write it in one transaction. Raises ImportFileError.

    The per-annotator format also takes a column `mapping`, an optional annotators file and a
    `source` name for the judgments (the mapping's `dataset`, else this, e.g. the file name)."""
    if fmt == ImportFormat.ANNOTATORS:
        return _annotators_import(project, path, mapping or {}, annotators_path, source)
    if project.kind == ProjectKind.RATING:
        raise ImportFileError(
            "a rating project is filled with per-annotator ratings: choose that format"
        )
    parse = _parser(project, fmt)
    lines = 0
    for item in parse(read_lines(path, _limits())):
        _check_fits(project, item)
        lines = item.line
        if on_progress and lines % 1000 == 0:
            on_progress(lines)
    if on_progress:
        on_progress(lines)
    items = judgments = 0
    with transaction.atomic():
        batch: list[ParsedItem] = []
        for item in parse(read_lines(path, _limits())):
            batch.append(item)
            if len(batch) == BATCH:
                judgments += _judgments_write(_write(project, batch), batch)
                items += len(batch)
                batch = []
        if batch:
            judgments += _judgments_write(_write(project, batch), batch)
            items += len(batch)
    if items == 0:
        raise ImportFileError("the file holds no items")
    return ImportResult(items=items, judgments=judgments, lines=lines)


def _annotators_import(
    project: Project,
    path: Path,
    mapping: dict[str, Any],
    annotators_path: Path | None,
    source: str,
) -> ImportResult:
    """Per-annotator judgments: the whole file is parsed and checked, then items, external
    labelers and their judgments are written in one transaction."""
    data = annotators.parse(
        read_lines(path, _limits()),
        kind=project.kind,
        mapping=mapping,
        annotator_lines=read_lines(annotators_path, _limits()) if annotators_path else None,
        max_k=project.ranking_size,
    )
    for item in data.items:
        _check_fits(project, item)
    with transaction.atomic():
        written: list[Item] = []
        for start in range(0, len(data.items), BATCH):
            written += _write(project, data.items[start : start + BATCH])
        judgments = external_judgments_write(
            project=project, data=data, items=written, source=data.dataset or source or "dataset"
        )
    lines = max(j.line for j in data.judgments)
    return ImportResult(items=len(written), judgments=judgments, lines=lines)


def _write(project: Project, batch: list[ParsedItem]) -> list[Item]:
    """Write a batch's prompts, completions and items (through services.items)."""
    prompts = prompts_create(
        project=project,
        prompts=[
            NewPrompt(turns=tuple((t.role, t.content) for t in p.prompt), external_id=p.external_id)
            for p in batch
        ],
    )
    completions = iter(
        completions_create(
            completions=[
                NewCompletion(
                    prompt_id=prompt.pk,
                    text=c.text,
                    source_model=c.source_model,
                    generation_settings=c.generation_settings,
                )
                for prompt, parsed in zip(prompts, batch, strict=True)
                for c in parsed.completions
            ]
        )
    )
    return items_create(
        project=project,
        items=[
            NewItem(
                prompt_id=prompt.pk,
                completions=tuple(next(completions) for _ in parsed.completions),
                purpose=parsed.purpose,
                gold_best_position=parsed.gold_best_position,
            )
            for prompt, parsed in zip(prompts, batch, strict=True)
        ],
    )


def _judgments_write(items: list[Item], batch: list[ParsedItem]) -> int:
    judgments = [
        Judgment(
            item=item,
            source=JudgmentSource.EXTERNAL,
            external_source=j.source[:100],
            pairwise_choice=j.pairwise_choice,
            scale=j.scale,
            none_acceptable=j.none_acceptable,
            display_order=list(range(len(parsed.completions))),
            labeler_group_ids=[],  # imported: no labeler, no group
        )
        for item, parsed in zip(items, batch, strict=True)
        for j in parsed.judgments
    ]
    saved = Judgment.objects.bulk_create(judgments)
    parsed_judgments = [j for parsed in batch for j in parsed.judgments]
    JudgmentRank.objects.bulk_create(
        [
            JudgmentRank(judgment=judgment, position=p, rank=r)
            for judgment, parsed_judgment in zip(saved, parsed_judgments, strict=True)
            for p, r in enumerate(parsed_judgment.ranks)
        ]
    )
    return len(saved)


def import_job_create(
    *,
    project: Project,
    fmt: str,
    upload: UploadedFile,
    created_by: Any,
    mapping: dict[str, Any] | None = None,
    annotators_upload: UploadedFile | None = None,
) -> ImportJob:
    """Store the upload and import it: inline when small, else in the background."""
    from annotation.tasks import import_run_task

    job = ImportJob(
        project=project,
        format=fmt,
        file=upload,
        mapping=mapping or {},
        annotators_file=annotators_upload,
        original_name=(upload.name or "upload")[:300],
        created_by=created_by,
    )
    job.full_clean(exclude=["file", "annotators_file"])
    job.save()
    if (upload.size or 0) <= settings.CHORUS_IMPORT_INLINE_MAX_BYTES:
        import_run(job_id=job.pk)
        job.refresh_from_db()
    else:
        dispatch_on_commit(import_run_task, job)
    return job


def import_run(*, job_id: int) -> None:
    """Run an import job; a bad file fails the job with the located error, changing no data."""
    job = ImportJob.objects.select_related("project").get(pk=job_id)
    # queued -> running in one conditional UPDATE: a duplicate message (re-dispatched by the
    # beat sweep while the first was still on its way) finds the job claimed and does nothing.
    if not ImportJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING
    ):
        logger.warning("import job %s is not queued; not running it again", job_id)
        return

    def progress(lines: int) -> None:
        ImportJob.objects.filter(pk=job_id).update(lines_done=lines)

    try:
        result = items_import(
            project=job.project,
            path=Path(job.file.path),
            fmt=job.format,
            on_progress=progress,
            mapping=job.mapping,
            annotators_path=Path(job.annotators_file.path) if job.annotators_file else None,
            source=Path(job.original_name).stem,
        )
    except ImportFileError as exc:
        # The lines before the failing one passed the checks (progress is only saved every 1000).
        checked = {"lines_done": exc.line - 1} if exc.line else {}
        ImportJob.objects.filter(pk=job_id).update(
            status=JobStatus.FAILED, error=str(exc), finished_at=timezone.now(), **checked
        )
        return
    except Exception as exc:
        logger.exception("import job %s crashed", job_id)
        ImportJob.objects.filter(pk=job_id).update(
            status=JobStatus.FAILED, error=f"internal error: {exc!r}", finished_at=timezone.now()
        )
        raise
    ImportJob.objects.filter(pk=job_id).update(
        status=JobStatus.SUCCEEDED,
        lines_done=result.lines,
        lines_total=result.lines,
        items_created=result.items,
        judgments_created=result.judgments,
        finished_at=timezone.now(),
    )


def import_uploads_purge(*, now: datetime | None = None) -> int:
    """Delete uploaded import files older than CHORUS_UPLOAD_RETENTION_DAYS (0: keep them).

    A finished job older than that loses its file (the job row, its counts and error stay);
    files of queued or running jobs are kept; a file under media/imports/ that no job names
    (its project was deleted) goes once it is that old too. Returns how many files went."""
    days = settings.CHORUS_UPLOAD_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    storage = default_storage
    removed = 0
    old = ImportJob.objects.filter(created_at__lt=cutoff).exclude(file="")
    for pk, *names in old.exclude(status__in=_ACTIVE).values_list("pk", "file", "annotators_file"):
        for name in filter(None, names):
            if storage.exists(name):
                storage.delete(name)
                removed += 1
        ImportJob.objects.filter(pk=pk).update(file="", annotators_file="")
    kept = {
        name
        for pair in ImportJob.objects.exclude(file="").values_list("file", "annotators_file")
        for name in pair
        if name
    }
    root = Path(settings.MEDIA_ROOT) / "imports"
    for path in root.rglob("*") if root.is_dir() else ():
        name = path.relative_to(settings.MEDIA_ROOT).as_posix()
        if not path.is_file() or name in kept:
            continue
        with contextlib.suppress(FileNotFoundError):
            if datetime.fromtimestamp(path.stat().st_mtime, tz=UTC) < cutoff:
                path.unlink()
                removed += 1
    if removed:
        logger.info("deleted %d uploaded import files older than %d days", removed, days)
    return removed


_ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
