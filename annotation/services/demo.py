"""The demo: projects from the bundled sample, users for each role, and simulated judgments.

Idempotent: running it twice changes nothing the second time. The simulated judgments come
from two demo labeler groups that agree with HH-RLHF's original choice except on a block of
items where the older group prefers the other reply, so the disagreement report has
something to find. They are marked with the rationale "(simulated demo judgment)".

The project "Concise or detailed (planted)" carries a signal the demo's tiny model can learn
(annotation/demo/planted.py, issue 11): on style items "Under 30" prefers the concise reply and
"45 and over" the detailed one (90 % of the time), on quality items both prefer the helpful
reply, so a reward run with the "demo" preset learns, and per-group models differ visibly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F

from annotation.demo.planted import ITEMS_FILE, OLDER, YOUNG, planted_choice, read_items
from annotation.models import Item, Judgment, Project
from annotation.selectors.labelers import labeler_group_id_map
from annotation.services.imports import items_import
from annotation.services.labelers import labeler_group_create, user_create
from annotation.services.projects import project_create

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
DEMO_PASSWORD = "chorus-demo"
PLANTED_PROJECT = "Concise or detailed (planted)"
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
    if not Project.objects.filter(name="HH harmlessness (pairwise)").exists():
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
        name="HH harmlessness (pairwise)", kind="pairwise", guidelines=GUIDELINES, created_by=researcher,
        overlap_target=3, criteria=criteria,
        description="80 conversations from Anthropic's HH-RLHF harmless-base test split (MIT).",
    )  # fmt: skip
    items_import(project=pairwise, path=DEMO_DIR / "hh_rlhf_harmless_sample.jsonl", fmt="hh_rlhf")
    ranking = project_create(
        name="Everyday questions (ranking)", kind="ranking", ranking_size=4, guidelines=GUIDELINES.replace(
            "both replies", "all replies"), created_by=researcher, overlap_target=3, criteria=criteria[:1],
    )  # fmt: skip
    items_import(project=ranking, path=DEMO_DIR / "ranking_items.jsonl", fmt="chorus")
    demos = project_create(
        name="Write ideal answers (demonstrations)", kind="demonstration", created_by=researcher, overlap_target=1,
        guidelines="# Write the ideal reply\n\nAnswer as a careful, kind expert would: correct, clear and brief.",
    )  # fmt: skip
    items_import(project=demos, path=DEMO_DIR / "demonstration_prompts.jsonl", fmt="chorus")
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
                    rationale="(simulated demo judgment)", labeler_group_ids=groups.get(users[name].pk, []),
                )
            )  # fmt: skip
    Judgment.objects.bulk_create(judgments)
    Item.objects.filter(project=project).update(human_judgment_count=6)


def _simulate_judgments(project: Project) -> None:
    """Labelers 1–12 judge the first 48 items (three from each group; all twelve on the
    contested block, so the report can tell the groups apart); on items 24–35 the older group
    prefers the other reply."""
    rng = random.Random(7)
    users = {u.username: u for u in get_user_model().objects.filter(username__startswith="labeler")}
    young = [users[f"labeler{i}"] for i in range(1, 7)]
    older = [users[f"labeler{i}"] for i in range(7, 13)]
    version = project.current_guidelines
    items = list(Item.objects.filter(project=project).order_by("pk")[:48])
    groups = labeler_group_id_map([u.pk for u in young + older])
    judgments = []
    for index, item in enumerate(items):
        contested = 24 <= index < 36
        judges = young + older if contested else rng.sample(young, 3) + rng.sample(older, 3)
        for labeler in judges:
            prefers_a = rng.random() < 0.85
            if contested and labeler in older:
                prefers_a = not prefers_a
            scale = rng.choice([1, 2, 3, 4]) if prefers_a else rng.choice([5, 6, 7, 8])
            judgments.append(
                Judgment(
                    item=item, labeler=labeler, guideline_version=version, pairwise_choice="a" if prefers_a else "b",
                    scale=scale, display_order=rng.sample([0, 1], 2), seconds_spent=round(rng.uniform(15, 90), 1),
                    rationale="(simulated demo judgment)", labeler_group_ids=groups.get(labeler.pk, []),
                )
            )  # fmt: skip
    Judgment.objects.bulk_create(judgments)
    for item in items:
        Item.objects.filter(pk=item.pk).update(
            human_judgment_count=F("human_judgment_count")
            + sum(j.item_id == item.pk for j in judgments)
        )
