"""Export benchmark: 100,000 judgments streamed to TRL and raw JSONL; time and memory.

Goal: under 10 s and flat memory (RSS does not grow with the number of rows written).
Run: .venv/bin/python bench/bench_export.py [--judgments 100000]
"""

import argparse
import json
import random
import time

from _django import rss_mib, setup

parser = argparse.ArgumentParser()
parser.add_argument("--judgments", type=int, default=100_000)
args = parser.parse_args()
var = setup()

from django.db import transaction  # noqa: E402

from annotation.models import Completion, Item, ItemCompletion, Judgment, Prompt, Turn  # noqa: E402
from annotation.services.exports import export_rows  # noqa: E402
from annotation.services.labelers import user_create  # noqa: E402
from annotation.services.projects import project_create  # noqa: E402

PER_ITEM = 4
rng = random.Random(0)
t0 = time.perf_counter()
with transaction.atomic():
    project = project_create(name="bench", kind="pairwise", guidelines="g")
    labelers = [user_create(username=f"l{i}", password="x" * 12, role="labeler") for i in range(40)]
    n_items = args.judgments // PER_ITEM
    prompts = Prompt.objects.bulk_create(
        [Prompt(project=project) for _ in range(n_items)], batch_size=5000
    )
    Turn.objects.bulk_create(
        [
            Turn(
                prompt=p,
                position=0,
                role="user",
                content=f"Question {p.pk}: " + "lorem ipsum " * 20,
            )
            for p in prompts
        ],
        batch_size=5000,
    )
    completions = Completion.objects.bulk_create(
        [
            Completion(prompt=p, text=f"Answer {k} " + "dolor sit amet " * 30)
            for p in prompts
            for k in range(2)
        ],
        batch_size=5000,
    )
    items = Item.objects.bulk_create(
        [Item(project=project, prompt=p) for p in prompts], batch_size=5000
    )
    ItemCompletion.objects.bulk_create(
        [
            ItemCompletion(item=it, completion=completions[2 * i + k], position=k)
            for i, it in enumerate(items)
            for k in range(2)
        ],
        batch_size=5000,
    )
    judgments = []
    for item in items:
        for labeler in rng.sample(labelers, PER_ITEM):
            choice = rng.choice(["a", "b", "a", "b", "tie"])
            scale = None if choice == "tie" else rng.randint(1, 4) + (4 if choice == "b" else 0)
            judgments.append(
                Judgment(
                    item=item,
                    labeler=labeler,
                    pairwise_choice=choice,
                    scale=scale,
                    display_order=[0, 1],
                )
            )
    Judgment.objects.bulk_create(judgments, batch_size=5000)
print(
    f"setup: {Judgment.objects.count():,} judgments on {n_items:,} items in {time.perf_counter() - t0:.1f} s"
)

for fmt in ("trl", "raw"):
    out_path = var / f"export-{fmt}.jsonl"
    start_rss = rss_mib()
    checkpoints = []
    t0 = time.perf_counter()
    rows = 0
    with open(out_path, "w") as out:
        for row in export_rows(project=project, fmt=fmt):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            rows += 1
            if rows % 20_000 == 0:
                checkpoints.append(f"{rows // 1000}k:{rss_mib():.0f}")
    elapsed = time.perf_counter() - t0
    size = out_path.stat().st_size / 2**20
    print(
        f"export {fmt:>3}: {rows:,} rows, {size:.0f} MiB in {elapsed:.2f} s ({rows / elapsed:,.0f} rows/s); "
        f"RSS MiB start {start_rss:.0f}, at rows {' '.join(checkpoints)}, end {rss_mib():.0f}"
    )
