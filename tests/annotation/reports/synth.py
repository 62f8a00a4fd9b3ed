"""Synthetic report inputs: two labeler groups that disagree on a known subset of items."""

from __future__ import annotations

import numpy as np

from annotation.reports import CriterionData, ReportInput
from annotation.reports.inputs import PAIRWISE, REGULAR

MODELS = ["model-a", "model-b", "model-c"]


def two_groups(
    n_items: int = 40,
    per_group: int = 6,
    south_size: int | None = None,
    contested: tuple[int, ...] = (3, 7, 11, 19, 23, 31),
    noise: float = 0.05,
    seed: int = 1,
) -> tuple[ReportInput, set[int]]:
    """Every labeler judges every item. Groups "north" and "south" agree (same side, with
    `noise`) except on `contested`, where north prefers A (position 0) and south B.
    Returns the input and the contested items' database ids (item index + 1000)."""
    rng = np.random.default_rng(seed)
    n_labelers = per_group + (per_group if south_size is None else south_size)
    south = np.arange(n_labelers) >= per_group
    item = np.repeat(np.arange(n_items), n_labelers)
    labeler = np.tile(np.arange(n_labelers), n_items)
    side = rng.integers(0, 2, n_items)[item]  # the side everybody prefers
    flip = rng.random(item.size) < noise
    prefers_b = np.where(flip, 1 - side, side)
    is_contested = np.isin(item, contested)
    prefers_b = np.where(is_contested, south[labeler].astype(int), prefers_b)
    strength = rng.integers(1, 4, item.size)  # 1..3 = much better .. slightly better
    scale = np.where(prefers_b == 1, 9 - strength, strength).astype(np.float64)
    texts = rng.integers(50, 400, (n_items, 2)).astype(np.float64)
    models = np.c_[rng.integers(0, 2, n_items), np.full(n_items, 2)]
    inp = ReportInput(
        kind=PAIRWISE,
        item_ids=np.arange(n_items) + 1000,
        item_purpose=np.full(n_items, REGULAR),
        item_gold=np.full(n_items, -1),
        slot_model=models,
        slot_length=texts,
        models=MODELS,
        labelers=[f"L-{i:02d}" for i in range(n_labelers)],
        groups={"north": ~south, "south": south},
        item=item,
        labeler=labeler,
        vote=prefers_b.astype(np.int64),
        scale=scale,
        ranks=np.zeros((item.size, 0)),
        seconds=rng.uniform(20, 60, item.size),
        first_shown=rng.integers(0, 2, item.size),
        criteria=[
            CriterionData(
                name="helpfulness",
                scale_min=1,
                scale_max=7,
                judgment=np.repeat(np.arange(item.size), 2),
                position=np.tile([0, 1], item.size),
                value=rng.integers(1, 8, 2 * item.size).astype(np.float64),
            )
        ],
    )
    return inp, {c + 1000 for c in contested}


def replace(inp: ReportInput, **changes: object) -> ReportInput:
    from dataclasses import replace as _replace

    return _replace(inp, **changes)


def ranking(n_items: int = 20, n_labelers: int = 10, k: int = 4, seed: int = 0) -> ReportInput:
    """Everyone ranks every item's K responses in the same order (position 0 best), except
    that half the labelers swap the last two; response p comes from model p % 3."""
    rng = np.random.default_rng(seed)
    item = np.repeat(np.arange(n_items), n_labelers)
    labeler = np.tile(np.arange(n_labelers), n_items)
    ranks = np.tile(np.arange(1, k + 1, dtype=np.float64), (item.size, 1))
    swap = labeler % 2 == 1
    ranks[swap, k - 2], ranks[swap, k - 1] = k, k - 1
    return ReportInput(
        kind="ranking",
        item_ids=np.arange(n_items) + 1,
        item_purpose=np.full(n_items, REGULAR),
        item_gold=np.full(n_items, -1),
        slot_model=np.tile(np.arange(k) % 3, (n_items, 1)),
        slot_length=rng.integers(50, 500, (n_items, k)).astype(np.float64),
        models=MODELS,
        labelers=[f"R-{i}" for i in range(n_labelers)],
        groups={"odd": np.arange(n_labelers) % 2 == 1, "even": np.arange(n_labelers) % 2 == 0},
        item=item,
        labeler=labeler,
        vote=np.zeros(item.size, dtype=np.int64),
        scale=np.full(item.size, np.nan),
        ranks=ranks,
        seconds=rng.uniform(30, 60, item.size),
        first_shown=rng.integers(0, k, item.size),
    )
