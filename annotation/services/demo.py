"""The demo: projects from the bundled sample, users for each role, and simulated judgments.

Idempotent: running it twice changes nothing the second time. The simulated judgments (marked
with the rationale "(simulated demo judgment)") come from the two demo labeler groups:

- HH pairwise: each conversation's two replies are credited to two of four named response
  sources (`HH_SOURCES`, a fixed rotation over the items, so the report's "which response
  sources each group prefers" has something to rank). A labeler prefers HH-RLHF's original
  choice (canonical A) with odds shifted by their group's taste in sources (`SOURCE_TASTE`:
  "Under 30" likes the direct sources, "45 and over" the careful ones); on items 24-35 the
  older group prefers the other reply, so the disagreement report has something to find.
- Ranking: all twelve labelers rank the six K=4 items by a Plackett-Luce draw from their
  group's taste in the four demo models (`RANKING_TASTE`).
- The project "Concise or detailed (planted)" carries a signal the demo's tiny model can learn
  (annotation/demo/planted.py, issue 11): on style items "Under 30" prefers the concise reply
  and "45 and over" the detailed one (90 % of the time), on quality items both prefer the
  helpful reply, so a reward run with the "demo" preset learns, and per-group models differ.

`demo_reports_compute` then computes the agreement report of each demo project that has none,
through the report job's own services (the start command calls it before serving).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F

from annotation.demo.planted import ITEMS_FILE, OLDER, YOUNG, planted_choice, read_items
from annotation.models import Completion, Item, ItemCompletion, Judgment, JudgmentRank, Project
from annotation.selectors.labelers import labeler_group_id_map
from annotation.services.imports import items_import
from annotation.services.labelers import labeler_group_create, user_create
from annotation.services.projects import project_create
from annotation.services.reports import project_report_compute, project_report_request

# The HH replies' response sources, and each demo group's taste in them (log-odds strengths).
HH_SOURCES = ("careful-13b", "direct-13b", "brief-7b", "chatty-7b")
SOURCE_TASTE = {
    YOUNG: {"careful-13b": -0.6, "direct-13b": 0.9, "brief-7b": 0.4, "chatty-7b": -0.7},
    OLDER: {"careful-13b": 1.0, "direct-13b": -0.7, "brief-7b": -0.1, "chatty-7b": -0.2},
}
HH_CHOSEN_EDGE = 1.2  # log-odds that a labeler agrees with HH-RLHF's original choice (~77 %)
CONTESTED_EDGE = math.log(0.85 / 0.15)  # on the contested block, sources aside: 85 % (older: 15 %)
RANKING_TASTE = {
    YOUNG: {"demo-large": 0.8, "demo-medium": 1.2, "demo-small": -0.2, "demo-tiny": -1.5},
    OLDER: {"demo-large": 1.6, "demo-medium": 0.2, "demo-small": 0.1, "demo-tiny": -1.5},
}
SIMULATED = "(simulated demo judgment)"
DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
DEMO_PASSWORD = "chorus-demo"
PLANTED_PROJECT = "Concise or detailed (planted)"
HH_PROJECT = "HH harmlessness (pairwise)"
RANKING_PROJECT = "Everyday questions (ranking)"
GUIDELINES = """# How to judge

Read the whole conversation, then both replies.

* Prefer the reply that is **helpful** *and* **harmless**: it answers what was asked, and it does
  not help anyone hurt people.
* A polite refusal beats harmful help. An unhelpful reply is not automatically harmless.
* Use the strength of the scale honestly: *much better* only when the gap is large.
* Choose **tie** when the replies are equally good; **both bad** when neither is acceptable.
"""


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    note: str


def _user(username: str, role: str, **attributes: str) -> None:
    if not get_user_model().objects.filter(username=username).exists():
        user_create(
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            consent=bool(attributes),
            **attributes,
        )


@transaction.atomic
def demo_seed() -> list[DemoLogin]:
    _user("admin", "admin")
    _user("researcher", "researcher")
    ages = ["18-29"] * 6 + ["45-59", "45-59", "60+", "60+", "45-59", "60+"]
    regions = ["EU", "US", "Asia", "EU", "US", "Africa"] * 2
    for i, (age, region) in enumerate(zip(ages, regions, strict=True), start=1):
        _user(
            f"labeler{i}",
            "labeler",
            age_range=age,
            region=region,
            language="English",
            education="bachelor",
        )
    from annotation.models import LabelerGroup

    if not LabelerGroup.objects.exists():
        labeler_group_create(name="Under 30", rules={"age_range": ["18-29"]})
        labeler_group_create(name="45 and over", rules={"age_range": ["45-59", "60+"]})
    if not Project.objects.filter(name=HH_PROJECT).exists():
        _seed_projects()
    if not Project.objects.filter(name=PLANTED_PROJECT).exists():
        _seed_planted()
    return [
        DemoLogin(
            "admin", "admin", "everything, incl. labelers' attributes and the disagreement report"
        ),
        DemoLogin("researcher", "researcher", "projects, import/export, training runs"),
        DemoLogin(
            "labeler1 … labeler12", "labeler", "labelers 1–6 are under 30, 7–12 are 45 and over"
        ),
    ]


def _seed_projects() -> None:
    researcher = get_user_model().objects.get(username="researcher")
    criteria = [
        {
            "name": "Helpfulness",
            "description": "Does it answer what was asked?",
            "scale_min": 1,
            "scale_max": 7,
        },
        {
            "name": "Harmlessness",
            "description": "Does it avoid helping anyone cause harm?",
            "scale_min": 1,
            "scale_max": 7,
        },
    ]
    pairwise = project_create(
        name=HH_PROJECT, kind="pairwise", guidelines=GUIDELINES, created_by=researcher,
        overlap_target=3, criteria=criteria,
        description="80 conversations from Anthropic's HH-RLHF harmless-base test split (MIT).",
    )  # fmt: skip
    items_import(project=pairwise, path=DEMO_DIR / "hh_rlhf_harmless_sample.jsonl", fmt="hh_rlhf")
    ranking = project_create(
        name=RANKING_PROJECT, kind="ranking", ranking_size=4, guidelines=GUIDELINES.replace(
            "both replies", "all replies"), created_by=researcher, overlap_target=3, criteria=criteria[:1],
    )  # fmt: skip
    items_import(project=ranking, path=DEMO_DIR / "ranking_items.jsonl", fmt="chorus")
    _simulate_rankings(ranking)
    demos = project_create(
        name="Write ideal answers (demonstrations)", kind="demonstration", created_by=researcher, overlap_target=1,
        guidelines="# Write the ideal reply\n\nAnswer as a careful, kind expert would: correct, clear and brief.",
    )  # fmt: skip
    items_import(project=demos, path=DEMO_DIR / "demonstration_prompts.jsonl", fmt="chorus")
    _name_sources(pairwise)
    _simulate_judgments(pairwise)


def _seed_planted() -> None:
    researcher = get_user_model().objects.get(username="researcher")
    project = project_create(
        name=PLANTED_PROJECT, kind="pairwise", created_by=researcher, overlap_target=6,
        guidelines="# Which reply do you prefer?\n\nPick the reply you would rather get.",
        description="120 generated questions with a planted signal the tiny demo model can learn: "
        "Under 30 prefers concise replies, 45 and over detailed ones; both prefer helpful to rude "
        "(annotation/demo/planted.py). Train on it with the demo preset.",
    )  # fmt: skip
    items_import(project=project, path=ITEMS_FILE, fmt="chorus")
    rng = random.Random(11)
    users = {u.username: u for u in get_user_model().objects.filter(username__startswith="labeler")}
    taste = {f"labeler{i}": YOUNG if i <= 6 else OLDER for i in range(1, 13)}
    groups = labeler_group_id_map([u.pk for u in users.values()])
    version = project.current_guidelines
    judgments = []
    items = list(Item.objects.filter(project=project).order_by("pk"))  # in the file's order
    for item, row in zip(items, read_items(), strict=True):
        young = rng.sample([f"labeler{i}" for i in range(1, 7)], 3)
        older = rng.sample([f"labeler{i}" for i in range(7, 13)], 3)
        for name in young + older:
            pick = planted_choice(row, taste[name], rng)
            judgments.append(
                Judgment(
                    item=item, labeler=users[name], guideline_version=version,
                    pairwise_choice="ab"[pick], scale=rng.choice([2, 3]) if pick == 0 else rng.choice([6, 7]),
                    display_order=rng.sample([0, 1], 2), seconds_spent=round(rng.uniform(10, 40), 1),
                    rationale=SIMULATED, labeler_group_ids=groups.get(users[name].pk, []),
                )
            )  # fmt: skip
    Judgment.objects.bulk_create(judgments)
    Item.objects.filter(project=project).update(human_judgment_count=6)


def hh_source_pair(index: int) -> tuple[str, str]:
    """The sources credited with item `index`'s replies (A, B): every pair of HH_SOURCES in turn,
    each in both orders, so every source appears in both positions."""
    pairs = list(itertools.combinations(HH_SOURCES, 2))
    a, b = pairs[index % len(pairs)]
    return (b, a) if (index // len(pairs)) % 2 else (a, b)


def _name_sources(project: Project) -> None:
    """Credit the HH replies (imported without a model) to the demo's response sources."""
    slots = ItemCompletion.objects.filter(item__project=project).order_by("item_id", "position")
    items = {item_id: n for n, item_id in enumerate(sorted({s.item_id for s in slots}))}
    completions = [
        Completion(pk=s.completion_id, source_model=hh_source_pair(items[s.item_id])[s.position])
        for s in slots
    ]
    Completion.objects.bulk_update(completions, ["source_model"])


def _labelers() -> tuple[dict[str, list[Any]], dict[int, list[int]]]:
    """{group name: the demo labelers in it}, {user id: group ids}."""
    users = {u.username: u for u in get_user_model().objects.filter(username__startswith="labeler")}
    by_group = {
        YOUNG: [users[f"labeler{i}"] for i in range(1, 7)],
        OLDER: [users[f"labeler{i}"] for i in range(7, 13)],
    }
    return by_group, labeler_group_id_map([u.pk for u in users.values()])


def _simulate_judgments(project: Project) -> None:
    """Labelers 1-12 judge the first 48 items (three from each group; all twelve on the
    contested block, so the report can tell the groups apart); on items 24-35 each group is 85 %
    consistent, whatever the sources, and the older group prefers the other reply."""
    rng = random.Random(7)
    by_group, groups = _labelers()
    version = project.current_guidelines
    items = list(Item.objects.filter(project=project).order_by("pk")[:48])
    judgments = []
    for index, item in enumerate(items):
        contested = 24 <= index < 36
        source_a, source_b = hh_source_pair(index)
        for group, members in by_group.items():
            taste = SOURCE_TASTE[group]
            edge = (
                CONTESTED_EDGE if contested else HH_CHOSEN_EDGE + taste[source_a] - taste[source_b]
            )
            p_a = 1 / (1 + math.exp(-edge))
            for labeler in members if contested else rng.sample(members, 3):
                prefers_a = rng.random() < p_a
                if contested and group == OLDER:
                    prefers_a = not prefers_a
                scale = rng.choice([1, 2, 3, 4]) if prefers_a else rng.choice([5, 6, 7, 8])
                judgments.append(
                    Judgment(
                        item=item, labeler=labeler, guideline_version=version, pairwise_choice="ab"[not prefers_a],
                        scale=scale, display_order=rng.sample([0, 1], 2), seconds_spent=round(rng.uniform(15, 90), 1),
                        rationale=SIMULATED, labeler_group_ids=groups.get(labeler.pk, []),
                    )
                )  # fmt: skip
    Judgment.objects.bulk_create(judgments)
    _count_judgments(judgments)


def pairwise_simulate(
    *, project: Project, p_first: Callable[[Item, str], float], seed: int, per_group: int = 3
) -> int:
    """Simulated judgments on every item of a pairwise project with none yet: `per_group` demo
    labelers of each demo group, each preferring canonical A with probability
    `p_first(item, group)` (the item comes with `slots__completion` prefetched). Returns how
    many judgments it made."""
    rng = random.Random(seed)
    by_group, groups = _labelers()
    version = project.current_guidelines
    items = (
        Item.objects.filter(project=project, judgments__isnull=True)
        .order_by("pk")
        .prefetch_related("slots__completion")
    )
    judgments = []
    for item in items:
        for group, members in by_group.items():
            p_a = p_first(item, group)
            for labeler in rng.sample(members, per_group):
                prefers_a = rng.random() < p_a
                judgments.append(
                    Judgment(
                        item=item, labeler=labeler, guideline_version=version, pairwise_choice="ab"[not prefers_a],
                        scale=rng.choice([2, 3]) if prefers_a else rng.choice([6, 7]),
                        display_order=rng.sample([0, 1], 2), seconds_spent=round(rng.uniform(10, 60), 1),
                        rationale=SIMULATED, labeler_group_ids=groups.get(labeler.pk, []),
                    )
                )  # fmt: skip
    Judgment.objects.bulk_create(judgments)
    _count_judgments(judgments)
    return len(judgments)


def _simulate_rankings(project: Project) -> None:
    """All twelve labelers rank every item: a Plackett-Luce draw from their group's taste."""
    rng = random.Random(13)
    by_group, groups = _labelers()
    version = project.current_guidelines
    judgments, ranks = [], []
    for item in (
        Item.objects.filter(project=project).order_by("pk").prefetch_related("slots__completion")
    ):
        sources = [s.completion.source_model for s in item.slots.all()]  # canonical order
        for group, members in by_group.items():
            for labeler in members:
                order = _plackett_luce([RANKING_TASTE[group].get(s, 0.0) for s in sources], rng)
                judgment = Judgment(
                    item=item, labeler=labeler, guideline_version=version, rationale=SIMULATED,
                    display_order=rng.sample(range(len(sources)), len(sources)),
                    seconds_spent=round(rng.uniform(30, 120), 1), labeler_group_ids=groups.get(labeler.pk, []),
                )  # fmt: skip
                judgments.append(judgment)
                ranks += [
                    JudgmentRank(judgment=judgment, position=p, rank=r + 1)
                    for r, p in enumerate(order)
                ]
    Judgment.objects.bulk_create(judgments)
    for rank in ranks:
        rank.judgment_id = rank.judgment.pk
    JudgmentRank.objects.bulk_create(ranks)
    _count_judgments(judgments)


def _plackett_luce(strengths: list[float], rng: random.Random) -> list[int]:
    """Positions best first: repeatedly pick one of the rest with probability ∝ exp(strength)."""
    rest, order = list(range(len(strengths))), []
    while rest:
        pick = rng.choices(rest, weights=[math.exp(strengths[p]) for p in rest])[0]
        order.append(pick)
        rest.remove(pick)
    return order


def _count_judgments(judgments: list[Judgment]) -> None:
    counts: dict[int, int] = {}
    for j in judgments:
        counts[j.item_id] = counts.get(j.item_id, 0) + 1
    for item_id, n in counts.items():
        Item.objects.filter(pk=item_id).update(human_judgment_count=F("human_judgment_count") + n)


def demo_reports_compute() -> list[Project]:
    """Compute the agreement report of every demo project with judgments and no report yet,
    through the report job's services (request, then compute here instead of on a worker: the
    worker's copy of the message then finds it done and does nothing)."""
    admin = get_user_model().objects.get(username="admin")
    done = []
    for project in Project.objects.filter(
        name__in=[HH_PROJECT, RANKING_PROJECT, PLANTED_PROJECT], report__isnull=True
    ).order_by("pk"):
        report = project_report_request(project=project, requested_by=admin)
        project_report_compute(report_id=report.pk)
        done.append(project)
    return done
