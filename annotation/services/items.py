"""Items: the only writer of prompts (with their turns), completions, items and their slots.

Imports (`services.imports`) and the training side's generation job write these tables only
through the functions here, in bulk, each in one transaction:

- `prompts_create`: prompts with their conversations (`NewPrompt`);
- `prompts_copy`: copies of existing prompts' conversations into a project (`copy-of-<pk>`);
- `completions_create`: candidate answers to prompts (`NewCompletion`);
- `items_create`: items over completions of one prompt, slot 0 first (`NewItem`);
- the item browser's bulk actions: `items_mark_gold` (a known best response: the item then
  scores labelers like any gold item), `items_exclude_from_training` (training datasets leave
  the item out), `items_requeue` (ask for more judgments beyond the overlap target);
- `item_stats_refresh`: the stored per-item agreement the browser filters and sorts on.

The checks are the cheap invariants every caller relies on: known roles, an item's prompt in
its project and its completions from that prompt, at most nine slots. What a file or a job may
hold (K per project kind, judgments) is checked before writing by the caller. Text fields that
come from outside are cut to their column's length, as imports always did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from annotation.models import (
    Completion,
    Item,
    ItemCompletion,
    ItemPurpose,
    Project,
    Prompt,
    Role,
    Turn,
)
from annotation.selectors.items import item_votes

MAX_SLOTS = 9  # the slot_position_le_8 constraint
STATS_CHUNK = 10_000  # item ids per UPDATE of the stored agreement


@dataclass(frozen=True)
class NewPrompt:
    """A prompt to write: its conversation as (role, content) turns, and its id in the source."""

    turns: tuple[tuple[str, str], ...]
    external_id: str = ""


@dataclass(frozen=True)
class NewCompletion:
    """A candidate answer to write; `source_model` and `generation_settings` stay hidden."""

    prompt_id: int
    text: str
    source_model: str = ""
    generation_settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewItem:
    """An item to write over saved completions of its prompt, in canonical order (0 is A)."""

    prompt_id: int
    completions: tuple[Completion, ...]
    purpose: str = ItemPurpose.REGULAR
    gold_best_position: int | None = None


@transaction.atomic
def prompts_create(*, project: Project, prompts: Sequence[NewPrompt]) -> list[Prompt]:
    """Write prompts and their turns; returns the prompts in the given order."""
    roles = set(Role.values)
    for spec in prompts:
        if any(role not in roles for role, _ in spec.turns):
            raise ValidationError({"turns": f"roles are {', '.join(Role.values)}."})
    made = Prompt.objects.bulk_create(
        [Prompt(project=project, external_id=spec.external_id[:200]) for spec in prompts]
    )
    Turn.objects.bulk_create(
        [
            Turn(prompt=prompt, position=position, role=role, content=content)
            for prompt, spec in zip(made, prompts, strict=True)
            for position, (role, content) in enumerate(spec.turns)
        ]
    )
    return made


def prompts_copy(*, project: Project, prompts: Sequence[Prompt]) -> list[Prompt]:
    """Copy prompts' conversations into `project` (external id `copy-of-<pk>`), by original id."""
    originals = Prompt.objects.filter(pk__in=[p.pk for p in prompts]).prefetch_related("turns")
    return prompts_create(
        project=project,
        prompts=[
            NewPrompt(
                turns=tuple((t.role, t.content) for t in original.turns.all()),
                external_id=f"copy-of-{original.pk}",
            )
            for original in originals
        ],
    )


@transaction.atomic
def completions_create(*, completions: Sequence[NewCompletion]) -> list[Completion]:
    """Write completions; returns them in the given order."""
    return Completion.objects.bulk_create(
        [
            Completion(
                prompt_id=spec.prompt_id,
                text=spec.text,
                source_model=spec.source_model[:300],
                generation_settings=spec.generation_settings,
            )
            for spec in completions
        ]
    )


@transaction.atomic
def items_create(*, project: Project, items: Sequence[NewItem]) -> list[Item]:
    """Write items and their slots; returns the items in the given order."""
    _check_items(project, items)
    made = Item.objects.bulk_create(
        [
            Item(
                project=project,
                prompt_id=spec.prompt_id,
                purpose=spec.purpose,
                gold_best_position=spec.gold_best_position,
            )
            for spec in items
        ]
    )
    ItemCompletion.objects.bulk_create(
        [
            ItemCompletion(item=item, completion=completion, position=position)
            for item, spec in zip(made, items, strict=True)
            for position, completion in enumerate(spec.completions)
        ]
    )
    return made


def _check_items(project: Project, items: Sequence[NewItem]) -> None:
    for spec in items:
        if len(spec.completions) > MAX_SLOTS:
            raise ValidationError({"completions": f"an item holds at most {MAX_SLOTS}."})
        if any(c.pk is None or c.prompt_id != spec.prompt_id for c in spec.completions):
            raise ValidationError({"completions": "an item's completions answer its prompt."})
    prompt_ids = {spec.prompt_id for spec in items}
    if Prompt.objects.filter(pk__in=prompt_ids).exclude(project=project).exists():
        raise ValidationError({"prompt": "an item's prompt belongs to its project."})


# --- the item browser's bulk actions ----------------------------------------------------------


def _project_items(project: Project, item_ids: Sequence[int]) -> Any:
    items = Item.objects.filter(project=project, pk__in=item_ids)
    if not item_ids or items.count() != len(set(item_ids)):
        raise ValidationError({"items": "Pick items of this project."})
    return items


@transaction.atomic
def items_mark_gold(*, project: Project, item_ids: Sequence[int], best_position: int) -> int:
    """Make the items gold items whose best response is `best_position` (screening items keep
    their purpose and take the answer); returns how many changed."""
    items = _project_items(project, item_ids)
    if not 0 <= best_position < project.ranking_size or project.kind == "demonstration":
        raise ValidationError({"best_position": "Not a response position of this project."})
    items.exclude(purpose=ItemPurpose.SCREENING).update(purpose=ItemPurpose.GOLD)
    return items.update(gold_best_position=best_position)


def items_exclude_from_training(
    *, project: Project, item_ids: Sequence[int], excluded: bool = True
) -> int:
    """Leave the items out of training datasets (or take them back in)."""
    return _project_items(project, item_ids).update(excluded_from_training=excluded)


def items_requeue(*, project: Project, item_ids: Sequence[int], more: int) -> int:
    """Reopen the items for `more` judgments beyond those they have (the queue offers an item
    until it has overlap_target + extra_overlap)."""
    if not 1 <= more <= 20:
        raise ValidationError({"more": "Ask for 1 to 20 more judgments."})
    items = _project_items(project, item_ids)
    target = project.overlap_target
    # room for `more` beyond the judgments it has; never less than was asked for before
    changed = [
        Item(pk=pk, extra_overlap=max(extra, judged + more - target))
        for pk, judged, extra in items.values_list("pk", "human_judgment_count", "extra_overlap")
    ]
    Item.objects.bulk_update(changed, ["extra_overlap"])
    return len(changed)


def plurality_share(votes: Sequence[int]) -> float | None:
    """Share of the votes on the most common answer; None with fewer than two votes."""
    if len(votes) < 2:
        return None
    return max(votes.count(v) for v in set(votes)) / len(votes)


def item_stats_refresh(*, project: Project, item_ids: Sequence[int] | None = None) -> int:
    """Store each item's agreement (plurality share of the labelers' votes); returns how many
    items changed. The report job runs it for the whole project; review actions for theirs."""
    votes = item_votes(project, list(item_ids) if item_ids is not None else None)
    items = Item.objects.filter(project=project)
    if item_ids is not None:
        items = items.filter(pk__in=item_ids)
    changed: dict[float | None, list[int]] = {}
    for pk, stored in items.values_list("pk", "agreement").iterator(chunk_size=5000):
        value = plurality_share(votes.get(pk, []))
        if value != stored:
            changed.setdefault(value, []).append(pk)
    # one UPDATE per distinct value (a handful: shares of a few votes), in chunks of ids
    for value, pks in changed.items():
        for start in range(0, len(pks), STATS_CHUNK):
            Item.objects.filter(pk__in=pks[start : start + STATS_CHUNK]).update(agreement=value)
    return sum(len(pks) for pks in changed.values())
