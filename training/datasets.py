"""Judgments -> training rows: the frozen dataset a run trains on.

The rows are the JSONL formats `training/ml/data.py` reads: preference rows for reward and DPO
runs, sft rows (demonstrations) for SFT runs, prompt rows for PPO and GRPO runs.

Which judgments
- those on items of the chosen projects, made within [date_from, date_to] (whole UTC days);
- no groups chosen: every labeler's judgments, plus imported ones if `include_external`;
- groups chosen: only judgments whose labeler was a member of at least one of them when
  judging; imported judgments belong to no group, so they are left out.

Groups (issue 11)
- Membership is the one recorded on the judgment when it was saved
  (`Judgment.labeler_group_ids`, set by annotation.services.judgments; the migration that added
  it filled older judgments with the membership as of that migration), so editing a labeler's
  attributes, a group's rules or its members later does not move past judgments. A judgment
  with nothing recorded (saved outside the submit path) falls back to membership now.
- A labeler in several groups: each judgment counts in ONE group, the one with the lowest
  `LabelerGroup.priority` (then by name) among the run's groups (the chosen ones, or all) that
  the labeler belonged to. A row's `groups` is therefore [that group] or [] (no group). Counting
  it in every group instead would train each overlapping group's model on the same people's
  judgments and score it on them in the other groups' columns of the cross-group matrix,
  inflating their agreement; and group balancing would count those judgments several times.
  With one group per judgment, per-group models, the per-group and cross-group accuracy,
  `rows_per_group` and `labelers_per_group` all partition the same rows.

A red-team project's pairs are reversed (`annotation.preferences`, `red_team`): `chosen` is the
less harmful reply; runs never mix red-team and ordinary projects (`training.services.runs`).

Items a researcher excluded from training (`Item.excluded_from_training`) give no row.
Adjudicated items of a project whose `adjudication_use` is "training" give their rows from the
reviewer's answer alone (`annotation.preferences.adjudication_pairs`, no group; left out when
groups are chosen, like imported judgments); their labelers' judgments are then counted in
`skipped` as "adjudicated".

Preference pairs and weights come from `annotation.preferences` (its docstring gives the rules:
pairwise 1, rankings 1/C(K,2), and the spec's `tie_policy` and `both_bad_policy`); what it
leaves out is counted in `skipped`. Weights are written as they are: group balancing is the
trainer's (`training.ml.data.row_weights`, from the run config's `group_balance`), so it is
applied exactly once. A pairwise judgment with an 8-point `scale` also writes `strength` (0..1,
`annotation.preferences.scale_strength`, issue 11); rows without one have no `strength` field.

Split: every row of one prompt lands on the same side. The side is decided by
sha256("<seed>:<prompt key>") < eval_fraction, where the prompt key hashes the conversation
(role and content of each turn), so the same conversation imported twice never lands in both.
One exception keeps a small dataset usable: with at least two prompts, neither side is left
empty when the researcher asked for both (eval_fraction > 0): if the hash sends every prompt to
one side, the prompt whose hash lies nearest the cut goes to the other (`_fill_an_empty_side`);
a seed and a dataset still always give the same split.

Labelers (issue 15): a preference row of a labeler's judgment carries `labeler`, the labeler's
pseudonym in the item's project (`annotation.selectors.labelers.project_pseudonym`: HMAC of the
id keyed by the project's salt, as in exports; never a name), so that latent-group discovery
(`training.ml.latent_groups`) can cluster labelers by their judgments. Imported and adjudicated
rows have none. A labeler who judged in two projects of one run is two pseudonyms there.

Demonstrations: each judgment with a non-empty `demonstration` gives one sft row.
Prompts (PPO/GRPO): each prompt of the projects made within the dates, once; groups and the
tie policies do not apply to them.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.db.models import QuerySet

from annotation.models import Adjudication, AdjudicationStatus, AdjudicationUse, Judgment, Prompt
from annotation.preferences import Pair, adjudication_pairs, judgment_pairs
from annotation.selectors.labelers import JudgmentGroup, project_pseudonym
from training.ml.data import NO_GROUP

CHUNK = 2000
ROW_FORMAT = {
    "reward": "preference",
    "dpo": "preference",
    "sft": "sft",
    "ppo": "prompt",
    "grpo": "prompt",
}


@dataclass(frozen=True)
class DatasetSpec:
    """What to take from the database; see the module docstring."""

    project_ids: tuple[int, ...]
    group_names: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    include_external: bool = True
    tie_policy: str = "skip"
    both_bad_policy: str = "skip"
    eval_fraction: float = 0.1
    seed: int = 0


@dataclass
class Counts:
    """What went into a snapshot and what was left out, saved with the run."""

    judgments: int = 0
    rows: int = 0
    train: int = 0
    eval: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    rows_per_group: Counter[str] = field(default_factory=Counter)
    labelers_per_group: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    prompts: dict[str, set[str]] = field(default_factory=lambda: {"train": set(), "eval": set()})
    rows_per_prompt: Counter[str] = field(default_factory=Counter)

    def add(self, row: dict[str, Any], labeler_id: int | None = None) -> None:
        self.rows += 1
        setattr(self, row["split"], getattr(self, row["split"]) + 1)
        self.prompts[row["split"]].add(row["prompt_id"])
        self.rows_per_prompt[row["prompt_id"]] += 1
        for name in row.get("groups") or [NO_GROUP]:
            self.rows_per_group[name] += 1
            if labeler_id is not None:
                self.labelers_per_group[name].add(labeler_id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "judgments": self.judgments,
            "rows": self.rows,
            "train_rows": self.train,
            "eval_rows": self.eval,
            "train_prompts": len(self.prompts["train"]),
            "eval_prompts": len(self.prompts["eval"]),
            "skipped": dict(sorted(self.skipped.items())),
            "rows_per_group": dict(sorted(self.rows_per_group.items())),
            "labelers_per_group": {
                g: len(ids) for g, ids in sorted(self.labelers_per_group.items())
            },
            "labelers": len(set().union(*self.labelers_per_group.values())),
        }


def prompt_key(messages: list[dict[str, str]]) -> str:
    """A stable key for a conversation: equal conversations get equal keys."""
    canonical = json.dumps([[m["role"], m["content"]] for m in messages], ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def split_of(key: str, eval_fraction: float, seed: int) -> str:
    """'eval' for about `eval_fraction` of the keys, always the same ones for a seed."""
    return "eval" if _hash_position(key, seed) < eval_fraction else "train"


def _hash_position(key: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _fill_an_empty_side(counts: Counts, spec: DatasetSpec) -> tuple[str, str] | None:
    """(prompt key, side) to move when one side is empty and there are two or more prompts.

    A few prompts can all fall on one side (four at eval_fraction 0.5: one seed in sixteen for
    each side; twelve at 0.4: one in 370 without any eval): a run with nothing to train on is
    refused and one without eval reports no held-out figures. Moving the prompt whose hash lies
    nearest the cut is the smallest change that fills the empty side, and the same for every
    snapshot of the same data and seed. Counts are updated; the caller rewrites the rows.
    """
    train, held_out = counts.prompts["train"], counts.prompts["eval"]
    if len(train) + len(held_out) < 2 or spec.eval_fraction <= 0 or (train and held_out):
        return None

    def position(prompt: str) -> float:
        return _hash_position(prompt, spec.seed)

    if held_out:
        key, side = max(held_out, key=position), "train"
    else:
        key, side = min(train, key=position), "eval"
    rows = counts.rows_per_prompt[key]
    counts.prompts["eval" if side == "train" else "train"].discard(key)
    counts.prompts[side].add(key)
    counts.eval += rows if side == "eval" else -rows
    counts.train += rows if side == "train" else -rows
    return key, side


def _messages(prompt: Prompt) -> list[dict[str, str]]:
    return [{"role": t.role, "content": t.content} for t in prompt.turns.all()]


class GroupOf:
    """A judgment -> the one labeler group it counts in, as a list ([] for none), by the policy
    of `annotation.selectors.labelers.JudgmentGroup` among the run's groups (chosen, or all)."""

    def __init__(self, spec: DatasetSpec) -> None:
        self.groups = JudgmentGroup(spec.group_names)

    def __call__(self, judgment: Judgment) -> list[str]:
        name = self.groups.resolve(judgment.labeler_id, judgment.labeler_group_ids)
        return [name] if name else []


def _selected(
    spec: DatasetSpec, qs: QuerySet[Judgment] | None = None
) -> Iterator[tuple[Judgment, list[str]]]:
    """The judgments the spec selects, each with the group it counts in (GroupOf)."""
    group_of = GroupOf(spec)
    if qs is None:
        qs = Judgment.objects.all()
    qs = qs.filter(item__project_id__in=spec.project_ids, item__excluded_from_training=False)
    if spec.date_from:
        qs = qs.filter(created_at__date__gte=spec.date_from)
    if spec.date_to:
        qs = qs.filter(created_at__date__lte=spec.date_to)
    if spec.group_names or not spec.include_external:
        qs = qs.filter(labeler__isnull=False)
    qs = qs.select_related("item__prompt", "item__project").prefetch_related(
        "ranks", "item__slots__completion", "item__prompt__turns"
    )
    for judgment in qs.order_by("pk").iterator(chunk_size=CHUNK):
        groups = group_of(judgment)
        if spec.group_names and not groups:
            continue  # its labeler was in none of the chosen groups when judging
        yield judgment, groups


def _pairs(judgment: Judgment, spec: DatasetSpec, counts: Counts) -> list[Pair]:
    """(chosen, rejected, weight) for one judgment under the spec's tie and both-bad policies."""
    expansion = judgment_pairs(
        judgment.pairwise_choice,
        {r.position: r.rank for r in judgment.ranks.all()},
        scale=judgment.scale,
        tie_policy=spec.tie_policy,
        both_bad_policy=spec.both_bad_policy,
        red_team=judgment.item.project.red_team,
    )
    counts.skipped.update(expansion.skipped)
    return expansion.pairs


def _adjudicated(spec: DatasetSpec) -> QuerySet[Adjudication]:
    """Decided adjudications that replace their item's judgments in training."""
    return Adjudication.objects.filter(
        status=AdjudicationStatus.DONE,
        item__project_id__in=spec.project_ids,
        item__project__adjudication_use=AdjudicationUse.TRAINING,
        item__excluded_from_training=False,
    )


def _adjudication_rows(spec: DatasetSpec, counts: Counts) -> Iterator[dict[str, Any]]:
    if spec.group_names:
        return  # an adjudication belongs to no labeler group
    adjudications = _adjudicated(spec).prefetch_related("item__slots__completion")
    for adjudication in adjudications.select_related("item__prompt").order_by("pk"):
        item = adjudication.item
        size = len(item.slots.all())
        pairs = adjudication_pairs(adjudication.best_position, size)
        yield from _preference_rows(item, pairs, [], counts, None, spec)


def _preference_rows(
    item: Any,
    pairs: list[Pair],
    groups: list[str],
    counts: Counts,
    labeler_id: int | None,
    spec: DatasetSpec,
) -> Iterator[dict[str, Any]]:
    messages = _messages(item.prompt)
    key = prompt_key(messages)
    texts = {slot.position: slot.completion.text for slot in item.slots.all()}
    labeler = {} if labeler_id is None else {"labeler": project_pseudonym(item.project, labeler_id)}
    for chosen, rejected, weight, strength in pairs:
        row = {
            "prompt": messages,
            "chosen": texts[chosen],
            "rejected": texts[rejected],
            "weight": weight,
            **({} if strength is None else {"strength": strength}),
            **labeler,
            "groups": groups,
            "prompt_id": key,
            "item_id": item.pk,
            "split": split_of(key, spec.eval_fraction, spec.seed),
        }
        counts.add(row, labeler_id)
        yield row


def preference_rows(spec: DatasetSpec, counts: Counts) -> Iterator[dict[str, Any]]:
    replaced = set(_adjudicated(spec).values_list("item_id", flat=True))
    for judgment, groups in _selected(spec):
        counts.judgments += 1
        if judgment.item_id in replaced:
            counts.skipped["adjudicated"] += 1
            continue
        pairs = _pairs(judgment, spec, counts)
        if pairs:
            yield from _preference_rows(
                judgment.item, pairs, groups, counts, judgment.labeler_id, spec
            )
    yield from _adjudication_rows(spec, counts)


def sft_rows(spec: DatasetSpec, counts: Counts) -> Iterator[dict[str, Any]]:
    for judgment, groups in _selected(spec, Judgment.objects.exclude(demonstration="")):
        counts.judgments += 1
        messages = _messages(judgment.item.prompt)
        key = prompt_key(messages)
        row = {
            "prompt": messages,
            "completion": judgment.demonstration,
            "groups": groups,
            "prompt_id": key,
            "split": split_of(key, spec.eval_fraction, spec.seed),
        }
        counts.add(row, judgment.labeler_id)
        yield row


def prompt_rows(spec: DatasetSpec, counts: Counts) -> Iterator[dict[str, Any]]:
    prompts = (
        Prompt.objects.filter(project_id__in=spec.project_ids)
        .prefetch_related("turns")
        .order_by("pk")
    )
    if spec.date_from:
        prompts = prompts.filter(created_at__date__gte=spec.date_from)
    if spec.date_to:
        prompts = prompts.filter(created_at__date__lte=spec.date_to)
    seen: set[str] = set()
    for prompt in prompts.iterator(chunk_size=CHUNK):
        messages = _messages(prompt)
        key = prompt_key(messages) if messages else ""
        if not messages or key in seen:
            counts.skipped["empty_prompt" if not messages else "duplicate_prompt"] += 1
            continue
        seen.add(key)
        row = {
            "prompt": messages,
            "prompt_id": key,
            "split": split_of(key, spec.eval_fraction, spec.seed),
        }
        counts.add(row)
        yield row


ROWS = {"preference": preference_rows, "sft": sft_rows, "prompt": prompt_rows}


def dataset_write(*, kind: str, spec: DatasetSpec, path: Path) -> dict[str, Any]:
    """Write the rows of a run of `kind` to `path` (JSONL); return the counts."""
    counts = Counts()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        for row in ROWS[ROW_FORMAT[kind]](spec, counts):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    moved = _fill_an_empty_side(counts, spec)
    if moved:
        lines = path.read_text(encoding="utf-8").splitlines()
        with open(path, "w", encoding="utf-8") as out:
            for line in lines:
                row = json.loads(line)
                if row["prompt_id"] == moved[0]:
                    row["split"] = moved[1]
                    line = json.dumps(row, ensure_ascii=False)
                out.write(line + "\n")
    return {"format": ROW_FORMAT[kind], **counts.as_dict()}


def dataset_rows(*, kind: str, spec: DatasetSpec) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows and counts in memory (for tests and small previews; runs use dataset_write)."""
    counts = Counts()
    rows = list(ROWS[ROW_FORMAT[kind]](spec, counts))
    moved = _fill_an_empty_side(counts, spec)
    for row in rows:
        if moved and row["prompt_id"] == moved[0]:
            row["split"] = moved[1]
    return rows, {"format": ROW_FORMAT[kind], **counts.as_dict()}
