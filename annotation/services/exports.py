"""Exports, streamed: rows are produced from the database in chunks, never all in memory.

How judgments become TRL preference rows (`prompt`, `chosen`, `rejected`, conversational):
- pairwise "a"/"b": one row, the preferred completion is `chosen`, weight 1;
- pairwise "tie": no row (neither reply is preferred; Bradley–Terry and DPO need a winner);
- pairwise "both_bad": no row (there is no acceptable `chosen`); both counted in `skipped`;
- ranking of K replies: every pair with different ranks gives a row with weight 1/C(K,2),
  as InstructGPT weights a prompt's comparisons; tied pairs give no row; a ranking marked
  "none acceptable" still gives its pairs (the order is information) with `none_acceptable`;
- external judgments (e.g. HH-RLHF's original choice) are exported too, with `source`.
Labelers appear only as pseudonyms, with the names of the groups they belong to.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotation.formats.base import ParsedTurn, hh_dialogue
from annotation.models import ExportFormat, ExportJob, JobStatus, Judgment, LabelerProfile, PairwiseChoice, Project
from annotation.selectors import labeler_group_map

logger = logging.getLogger(__name__)
CHUNK = 2000


def pseudonym_map(project: Project) -> dict[int, str]:
    ids = Judgment.objects.filter(item__project=project, labeler__isnull=False).values_list("labeler_id", flat=True).distinct()
    known = dict(LabelerProfile.objects.filter(user_id__in=ids).values_list("user_id", "pseudonym"))
    key = settings.SECRET_KEY.encode()
    return {
        uid: known.get(uid) or "L-" + hmac.new(key, str(uid).encode(), hashlib.sha256).hexdigest()[:12] for uid in ids
    }


def _judgments(project: Project) -> Iterator[Judgment]:
    return (
        Judgment.objects.filter(item__project=project)
        .select_related("item__prompt", "guideline_version")
        .prefetch_related("ranks", "ratings__criterion", "flags", "item__slots__completion", "item__prompt__turns")
        .order_by("pk")
        .iterator(chunk_size=CHUNK)
    )


def _messages(judgment: Judgment) -> list[dict[str, str]]:
    return [{"role": t.role, "content": t.content} for t in judgment.item.prompt.turns.all()]


def preference_pairs(judgment: Judgment) -> list[tuple[int, int, float]]:
    """(chosen position, rejected position, weight) for one judgment; see the module doc."""
    if judgment.pairwise_choice in (PairwiseChoice.A, PairwiseChoice.B):
        best = judgment.preferred_position
        return [(best, 1 - best, 1.0)] if best is not None else []
    ranks = {r.position: r.rank for r in judgment.ranks.all()}
    if len(ranks) < 2:
        return []
    weight = 1.0 / (len(ranks) * (len(ranks) - 1) / 2)
    pairs = []
    for i, j in combinations(sorted(ranks), 2):
        if ranks[i] != ranks[j]:
            pairs.append((i, j, weight) if ranks[i] < ranks[j] else (j, i, weight))
    return pairs


def export_rows(*, project: Project, fmt: str, stats: dict[str, int] | None = None) -> Iterator[dict[str, Any]]:
    """Yield export rows one by one. `stats` (if given) counts skipped ties and both-bad."""
    stats = stats if stats is not None else {}
    stats.setdefault("skipped_tie", 0)
    stats.setdefault("skipped_both_bad", 0)
    names = pseudonym_map(project)
    groups = labeler_group_map(names.keys())
    for judgment in _judgments(project):
        labeler = names.get(judgment.labeler_id) if judgment.labeler_id else None
        member_of = groups.get(judgment.labeler_id, []) if judgment.labeler_id else []
        if fmt == ExportFormat.RAW:
            yield _raw_row(judgment, labeler, member_of)
            continue
        if judgment.pairwise_choice in (PairwiseChoice.TIE, PairwiseChoice.BOTH_BAD):
            stats[f"skipped_{judgment.pairwise_choice}"] += 1
            continue
        texts = {slot.position: slot.completion.text for slot in judgment.item.slots.all()}
        for chosen, rejected, weight in preference_pairs(judgment):
            if fmt == ExportFormat.HH_RLHF:
                turns = [ParsedTurn(t.role, t.content) for t in judgment.item.prompt.turns.all()]
                yield {"chosen": hh_dialogue(turns, texts[chosen]), "rejected": hh_dialogue(turns, texts[rejected])}
            else:
                yield {
                    "prompt": _messages(judgment),
                    "chosen": [{"role": "assistant", "content": texts[chosen]}],
                    "rejected": [{"role": "assistant", "content": texts[rejected]}],
                    "weight": weight,
                    "item_id": judgment.item_id,
                    "source": judgment.external_source or "human",
                    "labeler": labeler,
                    "groups": member_of,
                    "none_acceptable": judgment.none_acceptable,
                }


def _raw_row(judgment: Judgment, labeler: str | None, member_of: list[str]) -> dict[str, Any]:
    return {
        "judgment_id": judgment.pk,
        "item_id": judgment.item_id,
        "prompt_external_id": judgment.item.prompt.external_id,
        "source": judgment.external_source or "human",
        "labeler": labeler,
        "groups": member_of,
        "guideline_version": judgment.guideline_version.version if judgment.guideline_version else None,
        "choice": judgment.pairwise_choice or None,
        "scale": judgment.scale,
        "ranks": [{"position": r.position, "rank": r.rank} for r in judgment.ranks.all()],
        "none_acceptable": judgment.none_acceptable,
        "ratings": [
            {"criterion": r.criterion.name, "position": r.position, "value": r.value} for r in judgment.ratings.all()
        ],
        "flags": [{"position": f.position, "flag": f.flag} for f in judgment.flags.all()],
        "demonstration": judgment.demonstration,
        "rationale": judgment.rationale,
        "display_order": list(judgment.display_order),
        "seconds_spent": judgment.seconds_spent,
        "created_at": judgment.created_at.isoformat(),
    }


def export_job_create(*, project: Project, fmt: str, created_by: Any) -> ExportJob:
    from annotation.tasks import export_run_task

    job = ExportJob(project=project, format=fmt, created_by=created_by)
    job.full_clean()
    job.save()
    transaction.on_commit(lambda: export_run_task.delay(job.pk))
    return job


def export_run(*, job_id: int) -> None:
    """Write an export job's file row by row; progress goes to `rows_written`."""
    job = ExportJob.objects.select_related("project").get(pk=job_id)
    if job.status != JobStatus.QUEUED:
        logger.warning("export job %s is %s; not running it again", job_id, job.status)
        return
    ExportJob.objects.filter(pk=job_id).update(status=JobStatus.RUNNING)
    relative = f"exports/project{job.project_id}-{job.format}-{job.pk}.jsonl"
    path = Path(settings.MEDIA_ROOT) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    try:
        with open(path, "w", encoding="utf-8") as out:
            for row in export_rows(project=job.project, fmt=job.format):
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
                if count % 10_000 == 0:
                    ExportJob.objects.filter(pk=job_id).update(rows_written=count)
    except Exception as exc:
        logger.exception("export job %s failed", job_id)
        ExportJob.objects.filter(pk=job_id).update(status=JobStatus.FAILED, error=repr(exc), finished_at=timezone.now())
        raise
    ExportJob.objects.filter(pk=job_id).update(
        status=JobStatus.SUCCEEDED, file=relative, rows_written=count, finished_at=timezone.now()
    )
