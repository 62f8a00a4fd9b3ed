"""Time the agreement report: the computation on a million judgments, and the dashboard.

1. Pure computation (annotation.reports, no database) on --judgments synthetic pairwise
   judgments: items x 10 labelers (5 from each region) from a pool of 100 in two groups ("north", "south") plus
   an overlapping third group; 20 source models; the groups take opposite sides on 2% of
   the items. Prints alpha alone and the whole group report.
2. Database (a throwaway SQLite test database): --db-judgments judgments are bulk-created,
   then loaded with values_list into numpy, computed and cached as the Celery job does, and
   the dashboard page (which only reads the cache) is requested 20 times as an admin.

Run: .venv/bin/python bench/bench_report.py [--judgments 1000000] [--db-judgments 100000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")

T = TypeVar("T")
PER_ITEM, POOL, MODELS = 10, 100, 20


def timed(label: str, fn: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = fn()
    print(f"{label:<58} {time.perf_counter() - start:8.3f} s")
    return result


def synthetic(n_judgments: int, seed: int = 0):  # noqa: ANN201
    from annotation.reports import ReportInput
    from annotation.reports.inputs import PAIRWISE, REGULAR

    rng = np.random.default_rng(seed)
    n_items = n_judgments // PER_ITEM
    start = rng.integers(0, POOL, n_items)
    labeler = ((start[:, None] + np.arange(PER_ITEM) * (POOL // PER_ITEM)) % POOL).ravel()
    item = np.repeat(np.arange(n_items), PER_ITEM)
    south = np.arange(POOL) >= POOL // 2
    strength = rng.normal(0, 0.5, MODELS)
    models = np.stack([rng.integers(0, MODELS, n_items), rng.integers(0, MODELS, n_items)], axis=1)
    lengths = rng.integers(20, 2000, (n_items, 2)).astype(np.float64)
    contested = rng.random(n_items) < 0.02
    margin = (
        strength[models[:, 0]] - strength[models[:, 1]] + (lengths[:, 0] - lengths[:, 1]) / 1000
    )
    latent = margin[item] + rng.normal(0, 1.0, item.size)
    latent = np.where(contested[item], np.where(south[labeler], -2.5, 2.5), latent)
    scale = np.clip(np.floor(4.5 - latent * 1.5), 1, 8)
    vote = (scale >= 5).astype(np.int64)
    inp = ReportInput(
        kind=PAIRWISE,
        item_ids=np.arange(n_items) + 1,
        item_purpose=np.full(n_items, REGULAR),
        item_gold=np.full(n_items, -1),
        slot_model=models,
        slot_length=lengths,
        models=[f"model-{m:02d}" for m in range(MODELS)],
        labelers=[f"L-{i:03d}" for i in range(POOL)],
        groups={"north": ~south, "south": south, "odd": np.arange(POOL) % 2 == 1},
        item=item,
        labeler=labeler,
        vote=vote,
        scale=scale,
        ranks=np.zeros((item.size, 0)),
        seconds=rng.lognormal(3.5, 0.5, item.size),
        first_shown=rng.integers(0, 2, item.size),
    )
    return inp, contested


def bench_pure(n_judgments: int) -> None:
    from annotation import agreement as ag
    from annotation.reports import ReportConfig, build_report

    inp, contested = timed(
        f"synthetic data ({n_judgments:,} judgments)", lambda: synthetic(n_judgments)
    )
    cats = np.array([1, 2, 3, 4, 4.5, 5, 6, 7, 8])
    counts = timed(
        "count table (items x 9 scale points)",
        lambda: ag.count_judgments(inp.item, inp.scale, cats)[1],
    )
    timed(
        "alpha ordinal + interval + nominal, no CI",
        lambda: [
            ag.alpha_from_counts(counts, cats, lv) for lv in ("ordinal", "interval", "nominal")
        ],
    )
    rng = np.random.default_rng(0)
    timed(
        "alpha interval with 200-resample bootstrap CI",
        lambda: ag.alpha_bootstrap(counts, cats, "interval", 200, 0.95, rng),
    )
    report = timed(
        "whole group report (build_report, 3 groups)", lambda: build_report(inp, ReportConfig())
    )
    rows = report["contested"]["items"]
    found = {r["item_id"] - 1 for r in rows if r["significant"]}
    top = {r["item_id"] - 1 for r in rows}
    truth = set(np.flatnonzero(contested))
    compared = report["contested"]["compared"]
    print(f"{'':<58} significant after BH over {compared:,} comparisons: {len(found):,}")
    share = len(top & truth) / max(len(top), 1)
    print(f"{'':<58} the {len(top)} most divergent items listed: {share:.0%} truly contested")
    print(
        f"{'':<58} alpha interval all {report['agreement']['all']['interval']['value']:.3f}; north-south majority agreement {report['between']['majority_agreement'][0][1]:.3f}"
    )


def bench_database(n_judgments: int) -> None:
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    connection.creation.create_test_db(verbosity=0)
    from annotation.models import Judgment
    from annotation.selectors.reports import report_input_load
    from annotation.services.labelers import user_create
    from annotation.services.reports import project_report_compute, project_report_request
    from tests.annotation.report_data import items_create, labelers_create
    from tests.factories import ProjectFactory

    try:
        admin = user_create(username="bench-admin", password="pw-not-used-1", role="admin")
        project = ProjectFactory(name="bench")
        per_item = 10
        labelers = timed("labelers (2 groups x 10)", lambda: labelers_create(10))
        users = labelers["north"] + labelers["south"]
        items = timed(
            f"items ({n_judgments // per_item:,})",
            lambda: items_create(project, n_judgments // per_item),
        )
        rng = np.random.default_rng(0)

        def judgments() -> None:
            rows = []
            for i, item in enumerate(items):
                side = rng.integers(0, 2)
                for j, user in enumerate(users[(i % 2) :: 2]):  # 5 north and 5 south each
                    b = bool(side) if i % 50 else j >= 5
                    s = int(rng.integers(1, 4))
                    rows.append(Judgment(item=item, labeler=user, pairwise_choice="b" if b else "a", scale=9 - s if b else s, display_order=[0, 1], seconds_spent=float(rng.uniform(10, 90))))  # fmt: skip
                if len(rows) >= 20_000:
                    Judgment.objects.bulk_create(rows)
                    rows = []
            Judgment.objects.bulk_create(rows)

        timed(f"bulk-create {n_judgments:,} judgments", judgments)
        timed("load judgments with values_list into numpy", lambda: report_input_load(project))
        report = project_report_request(project=project, requested_by=admin)
        timed(
            "report job: load + compute + cache (what Celery runs)",
            lambda: project_report_compute(report_id=report.pk),
        )
        client = Client()
        client.force_login(admin)
        url = f"/projects/{project.pk}/report/"
        first = time.perf_counter()
        assert client.get(url).status_code == 200
        first = time.perf_counter() - first
        times = []
        for _ in range(20):
            start = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - start)
        assert response.status_code == 200
        print(f"{'dashboard GET, first request':<58} {first * 1000:8.1f} ms")
        print(
            f"{'dashboard GET, median of 20 (reads the cached report)':<58} {statistics.median(times) * 1000:8.1f} ms   ({len(response.content) / 1024:.0f} KiB)"
        )
        api = []
        for _ in range(10):
            start = time.perf_counter()
            client.get(f"/api/projects/{project.pk}/report/")
            api.append(time.perf_counter() - start)
        print(f"{'API GET full report, median of 10':<58} {statistics.median(api) * 1000:8.1f} ms")
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--db-judgments", type=int, default=100_000)
    args = parser.parse_args()
    import django

    django.setup()
    if args.judgments:
        print("== computation (no database)")
        bench_pure(args.judgments)
    if args.db_judgments:
        print("\n== database and dashboard")
        bench_database(args.db_judgments)


if __name__ == "__main__":
    main()
