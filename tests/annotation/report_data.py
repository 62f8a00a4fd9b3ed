"""Database fixtures for the agreement report: two labeler groups (by region) that disagree
on a known subset of items. Rows are bulk-created, so the benchmark reuses this at scale."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from annotation.models import (
    Completion,
    Item,
    ItemCompletion,
    ItemPurpose,
    Judgment,
    LabelerGroup,
    Project,
    Prompt,
    Turn,
)
from annotation.services.labelers import labeler_group_create, user_create

REGIONS = {"north": "EU", "south": "US"}
MODELS = ("model-small", "model-large", "model-chat")


@dataclass
class TwoGroups:
    project: Project
    labelers: dict[str, list[Any]]  # group name -> users
    items: list[Item]
    contested: set[int]  # item ids where north prefers A and south prefers B


def groups_create() -> None:
    for name, region in REGIONS.items():
        if not LabelerGroup.objects.filter(name=name).exists():
            labeler_group_create(name=name, rules={"region": [region]})


def labelers_create(per_group: int, prefix: str = "") -> dict[str, list[Any]]:
    groups_create()
    return {
        name: [
            user_create(
                username=f"{prefix}{name}-{i}", password="pw-not-used-1", role="labeler",
                consent=True, region=region, age_range="30-44",
            )
            for i in range(per_group)
        ]
        for name, region in REGIONS.items()
    }  # fmt: skip


def items_create(
    project: Project, n_items: int, seed: int = 0, purpose: str = ItemPurpose.REGULAR
) -> list[Item]:
    """Items with two completions each: A is from a random model, B always `model-chat`;
    B's text is longer than A's on a random half."""
    rng = np.random.default_rng(seed)
    prompts = Prompt.objects.bulk_create(
        [Prompt(project=project, external_id=f"p{i}") for i in range(n_items)]
    )
    Turn.objects.bulk_create(
        [
            Turn(prompt=p, position=0, role="user", content=f"Question {i}: what should I do?")
            for i, p in enumerate(prompts)
        ]
    )
    lengths = rng.integers(40, 600, (n_items, 2))
    completions = Completion.objects.bulk_create(
        [
            Completion(
                prompt=p,
                text=_text(int(lengths[i, slot])),
                source_model=MODELS[int(rng.integers(0, 2))] if slot == 0 else MODELS[2],
            )
            for i, p in enumerate(prompts)
            for slot in range(2)
        ]
    )
    items = Item.objects.bulk_create(
        [
            Item(
                project=project,
                prompt=p,
                purpose=purpose,
                gold_best_position=0 if purpose != ItemPurpose.REGULAR else None,
            )
            for p in prompts
        ]
    )
    ItemCompletion.objects.bulk_create(
        [
            ItemCompletion(item=item, completion=completions[2 * i + slot], position=slot)
            for i, item in enumerate(items)
            for slot in range(2)
        ]
    )
    return items


def _text(length: int) -> str:
    words = "You could start by writing down what matters most to you and then compare the options"
    return ((words + ". ") * (length // len(words) + 1))[:length]


def two_groups_project(
    project: Project,
    n_items: int = 16,
    per_group: int = 5,
    contested: tuple[int, ...] = (2, 5, 9, 13),
    seed: int = 0,
    labelers: dict[str, list[Any]] | None = None,
) -> TwoGroups:
    """Every labeler judges every item; both groups prefer the same side except on the
    `contested` item indices, where north says A and south says B."""
    rng = np.random.default_rng(seed)
    labelers = labelers or labelers_create(per_group)
    items = items_create(project, n_items, seed)
    side = rng.integers(0, 2, n_items)
    rows = []
    for name, users in labelers.items():
        for user in users:
            for i, item in enumerate(items):
                prefers_b = (name == "south") if i in contested else bool(side[i])
                rows.append(_judgment(item, user, prefers_b, rng))
    Judgment.objects.bulk_create(rows, batch_size=2000)
    return TwoGroups(project, labelers, items, {items[i].pk for i in contested if i < n_items})


def _judgment(item: Item, user: Any, prefers_b: bool, rng: np.random.Generator) -> Judgment:
    strength = int(rng.integers(1, 4))
    order = [0, 1] if rng.random() < 0.5 else [1, 0]
    return Judgment(
        item=item, labeler=user, pairwise_choice="b" if prefers_b else "a",
        scale=9 - strength if prefers_b else strength, display_order=order,
        seconds_spent=float(rng.uniform(15, 90)),
    )  # fmt: skip


def ranking_judgments(
    project: Project, groups: dict[str, list[Any]], flip: str, contested: set[int], seed: int = 0
) -> None:
    """Every labeler ranks every item: position 0 best, then 1, ... with an occasional swap;
    on the `contested` item indices, group `flip` ranks them in reverse."""
    from annotation.models import JudgmentRank

    rng = np.random.default_rng(seed)
    items = list(Item.objects.filter(project=project).order_by("pk").prefetch_related("slots"))
    judgments, orders = [], []
    for index, item in enumerate(items):
        k = len(item.slots.all())
        for name, users in groups.items():
            for user in users:
                order = list(range(k))
                if index in contested and name == flip:
                    order.reverse()
                if rng.random() < 0.3:
                    a = int(rng.integers(0, k - 1))
                    order[a], order[a + 1] = order[a + 1], order[a]
                judgments.append(
                    Judgment(
                        item=item,
                        labeler=user,
                        display_order=list(rng.permutation(k).tolist()),
                        seconds_spent=float(rng.uniform(20, 120)),
                    )
                )
                orders.append(order)
    saved = Judgment.objects.bulk_create(judgments)
    JudgmentRank.objects.bulk_create(
        [
            JudgmentRank(judgment=j, position=p, rank=r + 1)
            for j, order in zip(saved, orders, strict=True)
            for r, p in enumerate(order)
        ]
    )
