"""Time the item browser at 100,000 items on PostgreSQL: the list and every filter.

Seeds --items pairwise items (prompts, turns, two completions each from one of 12 source
models, 3 judgments per item from a pool of 40 labelers in two groups, 1% skipped, 1% flagged)
with bulk_create, stores each item's agreement with the real `item_stats_refresh`, then
requests the browser page (full page, the htmx table fragment, the count the page loads after
its table) and the API through the
Django test client as a researcher: --runs requests per scenario after two warm-ups, and
prints p50 and p95 in milliseconds. Target: under 150 ms per request.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_bench_items \\
        .venv/bin/python bench/bench_item_browser.py [--items 100000] [--runs 20]

The database named in DATABASE_URL (default chorus_bench_items) is DROPPED and recreated;
--reuse keeps one an earlier run seeded (to time again after a change).
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/chorus_bench_items"
MODELS = [f"model-{i:02d}" for i in range(12)]
BATCH = 10_000


def _recreate_database(database_url: str) -> None:
    import psycopg

    url = urlparse(database_url)
    name = url.path.lstrip("/")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _setup_django(database_url: str) -> None:
    os.environ.update(
        CHORUS_SECRET_KEY="bench-" + secrets.token_hex(16), DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="config.settings", CHORUS_SECURE="0",
        CHORUS_ALLOWED_HOSTS="testserver",
    )  # fmt: skip
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _timed(label: str, fn):  # noqa: ANN001, ANN202
    start = time.perf_counter()
    result = fn()
    print(f"{label:<44} {time.perf_counter() - start:7.1f} s", flush=True)
    return result


def _bulk(model, rows):  # noqa: ANN001, ANN202
    made = []
    for start in range(0, len(rows), BATCH):
        made += model.objects.bulk_create(rows[start : start + BATCH])
    return made


def _labelers(n: int) -> list:
    from annotation.services.labelers import labeler_group_create, user_create

    labeler_group_create(name="north", rules={"region": ["EU"]})
    labeler_group_create(name="south", rules={"region": ["US"]})
    return [
        user_create(
            username=f"labeler{i}", password=secrets.token_urlsafe(16), role="labeler",
            consent=True, region="EU" if i % 2 else "US",
        )
        for i in range(n)
    ]  # fmt: skip


def _seed(n_items: int) -> tuple[int, list]:
    from annotation import models as m
    from annotation.services.labelers import user_create
    from annotation.services.projects import project_create

    rng = random.Random(0)
    researcher = user_create(username="rita", password=secrets.token_urlsafe(16), role="researcher")
    project = project_create(
        name="Browse", kind="pairwise", guidelines="Pick the better reply.",
        created_by=researcher, overlap_target=3,
    )  # fmt: skip
    labelers = _labelers(40)
    prompts = _bulk(
        m.Prompt, [m.Prompt(project=project, external_id=f"p{i}") for i in range(n_items)]
    )
    _bulk(
        m.Turn,
        [
            m.Turn(prompt=p, position=0, role="user",
                   content=f"Question {i} about topic{i % 500}: how should I plan my week?")
            for i, p in enumerate(prompts)
        ],
    )  # fmt: skip
    completions = _bulk(
        m.Completion,
        [
            m.Completion(
                prompt=p, source_model=rng.choice(MODELS),
                text=f"Reply {slot} for case{i}: start with what matters most, then plan. " * 3,
            )
            for i, p in enumerate(prompts)
            for slot in range(2)
        ],
    )  # fmt: skip
    items = _bulk(
        m.Item,
        [m.Item(project=project, prompt=p, human_judgment_count=3) for p in prompts],
    )
    _bulk(
        m.ItemCompletion,
        [
            m.ItemCompletion(item=item, completion=completions[2 * i + slot], position=slot)
            for i, item in enumerate(items)
            for slot in range(2)
        ],
    )
    judgments = _bulk(
        m.Judgment,
        [
            m.Judgment(
                item=item, labeler=labeler, pairwise_choice=choice,
                scale=2 if choice == "a" else 7, seconds_spent=rng.uniform(10, 90),
            )
            for item in items
            for labeler, choice in zip(
                rng.sample(labelers, 3), [rng.choice("ab") for _ in range(3)], strict=True
            )
        ],
    )  # fmt: skip
    _bulk(
        m.CompletionFlag,
        [m.CompletionFlag(judgment=j, position=1, flag="harmful") for j in judgments[::300]],
    )
    _bulk(
        m.Skip, [m.Skip(item=item, labeler=labelers[0], reason="unsure") for item in items[::100]]
    )
    return project.pk, labelers


def _scenarios(project_id: int, pseudonym: str, mid: int) -> list[tuple[str, str, dict]]:
    page = f"/projects/{project_id}/items/"
    api = f"/api/projects/{project_id}/items/"
    count = f"/projects/{project_id}/items/count/"
    return [
        ("list, first page", page, {}),
        ("list, htmx table fragment", page, {"_htmx": 1}),
        ("list, deep page (keyset)", page, {"after": f"{mid}|{mid}"}),
        ("sort by lowest agreement", page, {"sort": "lowest_agreement"}),
        ("sort by most judged", page, {"sort": "most_judged"}),
        ("search, rare word (topic17)", page, {"q": "topic17"}),
        ("search, word in every prompt", page, {"q": "plan"}),
        ("search, no match", page, {"q": "zebra"}),
        ("agreement at most 0.7", page, {"agreement_max": 0.7}),
        ("judged 3..3, overlap reached", page, {"judged_min": 3, "judged_max": 3, "overlap": "reached"}),
        ("skipped", page, {"skipped": "yes"}),
        ("flagged", page, {"flagged": "yes"}),
        ("source model", page, {"source_model": "model-03"}),
        ("labeler pseudonym", page, {"labeler": pseudonym}),
        ("labeler group", page, {"group": "north"}),
        ("gold items (none)", page, {"purpose": "gold"}),
        ("in review (none)", page, {"review": "pending"}),
        ("created today", page, {"date_from": time.strftime("%Y-%m-%d")}),
        ("combined: source + agreement + flagged", page, {"source_model": "model-03", "agreement_max": 0.7, "flagged": "yes"}),
        ("count (loaded after the table), no filter", count, {}),
        ("count, agreement at most 0.7", count, {"agreement_max": 0.7}),
        ("count, source model", count, {"source_model": "model-03"}),
        ("count, word in every prompt", count, {"q": "plan"}),
        ("API list", api, {}),
        ("API search + agreement", api, {"q": "topic17", "agreement_max": 0.7}),
    ]  # fmt: skip


class _SqlTimer:
    """Wall time spent waiting for PostgreSQL (a connection execute wrapper)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):  # noqa: ANN001, ANN204
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - start


def _measure(client, url: str, params: dict, runs: int) -> dict[str, float]:  # noqa: ANN001
    """p50/p95 wall ms; median Python CPU ms (this process: view, ORM, templates) and median
    ms waiting on SQL, which together show where the time goes on a busy machine."""
    from django.db import connection

    headers = {"HX-Request": "true"} if params.pop("_htmx", None) else {}
    wall, cpu, sql = [], [], []
    for i in range(runs + 2):
        timer = _SqlTimer()
        start, start_cpu = time.perf_counter(), time.process_time()
        with connection.execute_wrapper(timer):
            response = client.get(url, params, headers=headers)
        if i >= 2:
            wall.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
            sql.append(timer.seconds * 1000)
        assert response.status_code == 200, (url, params, response.status_code)
    wall.sort()
    return {
        "p50": statistics.median(wall), "p95": wall[int(0.95 * (len(wall) - 1))],
        "cpu": statistics.median(cpu), "sql": statistics.median(sql),
        "kib": len(response.content) / 1024,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DB
    if not database_url.startswith("postgres"):
        sys.exit("DATABASE_URL must point at a PostgreSQL database reserved for this benchmark")
    if not args.reuse:
        _recreate_database(database_url)
    _setup_django(database_url)
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from annotation.models import Project
    from annotation.selectors.labelers import project_pseudonym
    from annotation.services.items import item_stats_refresh

    if args.reuse and Project.objects.filter(name="Browse").exists():
        project = Project.objects.get(name="Browse")
        labelers = list(
            get_user_model().objects.filter(username__startswith="labeler").order_by("pk")
        )
    else:
        project_id, labelers = _timed(f"seed {args.items} items", lambda: _seed(args.items))
        project = Project.objects.get(pk=project_id)
        changed = _timed(
            "item_stats_refresh (whole project)", lambda: item_stats_refresh(project=project)
        )
        print(f"  agreement stored on {changed} items")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    n_items = project.items.count()
    client = Client()
    client.force_login(get_user_model().objects.get(username="rita"))
    pseudonym = project_pseudonym(project, labelers[5].pk)
    mid = project.items.order_by("pk").values_list("pk", flat=True)[n_items // 2]
    print(f"load average before timing: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    head = f"request (PostgreSQL, {n_items} items)"
    print(f"\n{head:<44} {'p50 ms':>7} {'p95 ms':>7} {'cpu ms':>7} {'sql ms':>7} {'KiB':>5}")
    worst = 0.0
    for label, url, params in _scenarios(project.pk, pseudonym, mid):
        m = _measure(client, url, dict(params), args.runs)
        worst = max(worst, m["p95"])
        print(
            f"{label:<44} {m['p50']:7.1f} {m['p95']:7.1f} {m['cpu']:7.1f} {m['sql']:7.1f} "
            f"{m['kib']:5.0f}",
            flush=True,
        )
    print(f"\nworst p95: {worst:.1f} ms (target < 150 ms)")
    print(f"load average after timing: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
