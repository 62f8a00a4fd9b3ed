"""Items: the only writer of prompts (with their turns), completions, items and their slots.

Imports (`services.imports`) and the training side's generation job write these tables only
through the functions here, in bulk, each in one transaction:

- `prompts_create`: prompts with their conversations (`NewPrompt`);
- `prompts_copy`: copies of existing prompts' conversations into a project (`copy-of-<pk>`);
- `completions_create`: candidate answers to prompts (`NewCompletion`);
- `items_create`: items over completions of one prompt, slot 0 first (`NewItem`).

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

MAX_SLOTS = 9  # the slot_position_le_8 constraint


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
