"""Exports, streamed: rows are produced from the database in chunks, never all in memory.

How judgments become TRL preference rows (`prompt`, `chosen`, `rejected`, conversational): the
pairs and weights of `annotation.preferences` under its default policies, so
- pairwise "a"/"b": one row, the preferred completion is `chosen`, weight 1;
- pairwise "tie": no row (neither reply is preferred; Bradley–Terry and DPO need a winner);
- pairwise "both_bad": no row (there is no acceptable `chosen`); both counted in `skipped`;
- ranking of K replies: every pair with different ranks gives a row with weight 1/C(K,2),
  as InstructGPT weights a prompt's comparisons; tied pairs give no row; a ranking marked
  "none acceptable" still gives its pairs (the order is information) with `none_acceptable`;
- external judgments (e.g. HH-RLHF's original choice) are exported too, with `source`;
- a judgment its labeler changed (annotation.services.revisions) is exported once, as its
  current version: `revision` (1 = as submitted) and, in the raw export, `edited_at`.
- a red-team project (labelers picked the MORE harmful reply): `chosen` is the less harmful
  reply (`annotation.preferences`, as Anthropic's harmless-base data), and TRL and raw rows
  carry `red_team: true` (false elsewhere), so files of the two questions are never pooled
  unknowingly. Multi-turn prompts (live conversations' prefixes) export as they are: HH-RLHF
  rows hold the whole dialogue, TRL rows the prompt's turns.
Labelers appear only as pseudonyms of this project (keyed by its salt: they do not match any
other project's), with the names of the groups they belong to, less the groups with fewer than
CHORUS_MIN_GROUP_SIZE of the project's labelers (annotation.privacy: never named, never listed).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Subquery
from django.utils import timezone
from django.utils.text import slugify

from annotation.files import atomic_text_file, os_error_reason
from annotation.formats.base import ParsedTurn, hh_dialogue
from annotation.models import (
    CompletionFlag,
    CriterionRating,
    ExportFormat,
    ExportJob,
    Item,
    ItemCompletion,
    JobStatus,
    Judgment,
    JudgmentRank,
    Project,
    Turn,
)
from annotation.preferences import CHOICE_BOTH_BAD, CHOICE_TIE, judgment_pairs
from annotation.privacy import without
from annotation.selectors.labelers import (
    group_sizes,
    hidden_groups,
    labeler_group_map,
    pseudonym_map,
)
from config.dispatch import dispatch_on_commit

logger = logging.getLogger(__name__)


ITEM_CHUNK = 1000


@dataclass
class JudgmentRecord:
    """A judgment with what an export row needs, loaded in bulk (no per-row queries)."""

    pk: int
    item_id: int
    labeler_id: int | None
    external_source: str
    pairwise_choice: str
    scale: int | None
    none_acceptable: bool
    demonstration: str
    rationale: str
    display_order: list[int]
    seconds_spent: float | None
    created_at: Any
    revision: int
    edited_at: Any
    guideline_version: int | None
    prompt_external_id: str = ""
    turns: list[tuple[str, str]] = field(default_factory=list)
    texts: dict[int, str] = field(default_factory=dict)
    ranks: dict[int, int] = field(default_factory=dict)
    ratings: list[dict[str, Any]] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)


def _item_ranges(project: Project) -> Iterator[tuple[int, int]]:
    batch: list[int] = []
    for pk in (
        project.items.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=ITEM_CHUNK)
    ):
        batch.append(pk)
        if len(batch) == ITEM_CHUNK:
            yield batch[0], batch[-1]
            batch = []
    if batch:
        yield batch[0], batch[-1]


def _load_chunk(project: Project, lo: int, hi: int) -> list[JudgmentRecord]:
    """Seven queries for up to ITEM_CHUNK items, joined on ranges (no long IN lists)."""
    in_range = {"item__project": project, "item__pk__range": (lo, hi)}
    items = Item.objects.filter(project=project, pk__range=(lo, hi))
    prompt_of = dict(items.values_list("pk", "prompt_id"))
    external_ids = dict(items.values_list("pk", "prompt__external_id"))
    turns: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for prompt_id, role, content in (
        Turn.objects.filter(prompt_id__in=Subquery(items.values("prompt_id")))
        .order_by("prompt_id", "position")
        .values_list("prompt_id", "role", "content")
    ):
        turns[prompt_id].append((role, content))
    texts: dict[int, dict[int, str]] = defaultdict(dict)
    for item_id, position, text in ItemCompletion.objects.filter(**in_range).values_list(
        "item_id", "position", "completion__text"
    ):
        texts[item_id][position] = text
    by_judgment = {"judgment__item__project": project, "judgment__item__pk__range": (lo, hi)}
    ranks: dict[int, dict[int, int]] = defaultdict(dict)
    for judgment_id, position, rank in JudgmentRank.objects.filter(**by_judgment).values_list(
        "judgment_id", "position", "rank"
    ):
        ranks[judgment_id][position] = rank
    ratings: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for judgment_id, name, position, value in (
        CriterionRating.objects.filter(**by_judgment)
        .order_by("pk")
        .values_list("judgment_id", "criterion__name", "position", "value")
    ):
        ratings[judgment_id].append({"criterion": name, "position": position, "value": value})
    flags: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for judgment_id, position, flag in (
        CompletionFlag.objects.filter(**by_judgment)
        .order_by("pk")
        .values_list("judgment_id", "position", "flag")
    ):
        flags[judgment_id].append({"position": position, "flag": flag})
    records = []
    for row in Judgment.objects.filter(**in_range).order_by("pk").values(*_JUDGMENT_FIELDS):
        record = JudgmentRecord(**{_RENAMED.get(k, k): v for k, v in row.items()})
        record.prompt_external_id = external_ids[record.item_id]
        record.turns = turns[prompt_of[record.item_id]]
        record.texts = texts[record.item_id]
        record.ranks, record.ratings, record.flags = (
            ranks[record.pk],
            ratings[record.pk],
            flags[record.pk],
        )
        records.append(record)
    return records


_JUDGMENT_FIELDS = (
    "pk", "item_id", "labeler_id", "external_source", "pairwise_choice", "scale", "none_acceptable", "demonstration",
    "rationale", "display_order", "seconds_spent", "created_at", "revision", "edited_at", "guideline_version__version",
)  # fmt: skip
_RENAMED = {"guideline_version__version": "guideline_version"}


def export_rows(
    *, project: Project, fmt: str, stats: dict[str, int] | None = None
) -> Iterator[dict[str, Any]]:
    """Yield export rows one by one. `stats` (if given) counts skipped ties and both-bad."""
    stats = stats if stats is not None else {}
    for reason in (CHOICE_TIE, CHOICE_BOTH_BAD):
        stats.setdefault(f"skipped_{reason}", 0)
    names = pseudonym_map(project)
    membership = labeler_group_map(names.keys())
    hidden = hidden_groups(group_sizes(membership))
    groups = {uid: without(member_of, hidden) for uid, member_of in membership.items()}
    for lo, hi in _item_ranges(project):
        for record in _load_chunk(project, lo, hi):
            labeler = names.get(record.labeler_id) if record.labeler_id else None
            member_of = groups.get(record.labeler_id, []) if record.labeler_id else []
            if fmt == ExportFormat.RAW:
                yield _raw_row(record, labeler, member_of) | {"red_team": project.red_team}
                continue
            yield from _preference_rows(record, fmt, labeler, member_of, stats, project.red_team)


def _preference_rows(
    record: JudgmentRecord,
    fmt: str,
    labeler: str | None,
    member_of: list[str],
    stats: dict[str, int],
    red_team: bool = False,
) -> Iterator[dict[str, Any]]:
    expansion = judgment_pairs(record.pairwise_choice, record.ranks, red_team=red_team)
    for reason in (CHOICE_TIE, CHOICE_BOTH_BAD):
        stats[f"skipped_{reason}"] += expansion.skipped.get(reason, 0)
    prompt = [{"role": role, "content": content} for role, content in record.turns]
    for chosen, rejected, weight, _strength in expansion.pairs:
        if fmt == ExportFormat.HH_RLHF:
            turns = [ParsedTurn(role, content) for role, content in record.turns]
            yield {
                "chosen": hh_dialogue(turns, record.texts[chosen]),
                "rejected": hh_dialogue(turns, record.texts[rejected]),
            }
        else:
            yield {
                "prompt": prompt,
                "chosen": [{"role": "assistant", "content": record.texts[chosen]}],
                "rejected": [{"role": "assistant", "content": record.texts[rejected]}],
                "weight": weight,
                "item_id": record.item_id,
                # a Chorus labeler's "human"; an imported judgment names its dataset (imports refuse
                # an empty name; an older one without a name reads "external", never "human")
                "source": record.external_source or ("human" if record.labeler_id else "external"),
                "labeler": labeler,
                "groups": member_of,
                "none_acceptable": record.none_acceptable,
                "revision": record.revision,
                "red_team": red_team,
            }


def _raw_row(record: JudgmentRecord, labeler: str | None, member_of: list[str]) -> dict[str, Any]:
    return {
        "judgment_id": record.pk,
        "item_id": record.item_id,
        "prompt_external_id": record.prompt_external_id,
        # a Chorus labeler's "human"; an imported judgment names its dataset (imports refuse
        # an empty name; an older one without a name reads "external", never "human")
        "source": record.external_source or ("human" if record.labeler_id else "external"),
        "labeler": labeler,
        "groups": member_of,
        "guideline_version": record.guideline_version,
        "choice": record.pairwise_choice or None,
        "scale": record.scale,
        "ranks": [{"position": p, "rank": r} for p, r in sorted(record.ranks.items())],
        "none_acceptable": record.none_acceptable,
        "ratings": record.ratings,
        "flags": record.flags,
        "demonstration": record.demonstration,
        "rationale": record.rationale,
        "display_order": list(record.display_order),
        "seconds_spent": record.seconds_spent,
        "created_at": record.created_at.isoformat(),
        # the version that counts: 1 as submitted, more when the labeler changed it (the earlier
        # versions stay in Chorus as history and are never exported)
        "revision": record.revision,
        "edited_at": record.edited_at.isoformat() if record.edited_at else None,
    }


def export_job_create(*, project: Project, fmt: str, created_by: Any) -> ExportJob:
    from annotation.tasks import export_run_task

    job = ExportJob(project=project, format=fmt, created_by=created_by)
    job.full_clean()
    job.save()
    dispatch_on_commit(export_run_task, job)
    return job


def export_run(*, job_id: int) -> None:
    """Write an export job's file row by row (progress goes to `rows_written`), atomically:
    the file appears whole when done; a write error fails the job and leaves no file."""
    job = ExportJob.objects.select_related("project").get(pk=job_id)
    # queued -> running in one conditional UPDATE: a duplicate message runs the job once.
    if not ExportJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING
    ):
        logger.warning("export job %s is not queued; not running it again", job_id)
        return
    relative = f"exports/project{job.project_id}-{job.format}-{job.pk}.jsonl"
    path = Path(settings.MEDIA_ROOT) / relative
    count = 0
    try:
        with atomic_text_file(path) as out:
            for row in export_rows(project=job.project, fmt=job.format):
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
                if count % 10_000 == 0:
                    ExportJob.objects.filter(pk=job_id).update(rows_written=count)
    except OSError as exc:  # disk full, permissions, ...: a clean failure, nothing left behind
        logger.warning("export job %s could not write %s: %s", job_id, path, exc)
        ExportJob.objects.filter(pk=job_id).update(
            status=JobStatus.FAILED,
            error=f"could not write the export: {os_error_reason(exc)}",
            finished_at=timezone.now(),
        )
        return
    except Exception as exc:
        logger.exception("export job %s failed", job_id)
        ExportJob.objects.filter(pk=job_id).update(
            status=JobStatus.FAILED, error=f"internal error: {exc!r}", finished_at=timezone.now()
        )
        raise
    ExportJob.objects.filter(pk=job_id).update(
        status=JobStatus.SUCCEEDED, file=relative, rows_written=count, finished_at=timezone.now()
    )


def export_filename(job: ExportJob) -> str:
    """The download's file name: the project's name as a slug (no spaces or parentheses, which
    shells and some tools mangle), the format and the job id, e.g.
    `hh-harmlessness-pairwise-trl-12.jsonl`."""
    name = slugify(job.project.name)[:60].strip("-") or "project"
    return f"{name}-{job.format}-{job.pk}.jsonl"
