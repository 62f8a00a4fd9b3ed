"""The "whose preferences" page of a project: per labeler group, what each method says about the
group, side by side (issue 15, item 8).

The page is a list of sections, each made by a *section provider* (`SECTIONS`): a function of
the page's context (project, shown groups) that returns a `Section` or None (nothing to say
yet). A section has a partial template rendered once per group with `per_group[name]` (a group
it says nothing about shows `empty`), and optionally a project-wide part (`summary_template`
with `summary`). To add a method (the group-conditioned reward model, DPL's variance ...),
write a provider and a partial and append it to `SECTIONS`; the page, its groups and the
minimum-group-size rule need no change.

Groups: those whose labelers judged in the project (recorded at judgment time, one group per
judgment: annotation.selectors.labelers.JudgmentGroup). A group with fewer of them than
CHORUS_MIN_GROUP_SIZE is never shown, to anyone (annotation.privacy), only counted; providers
read `ctx.groups` and never name another.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.urls import reverse

from annotation.models import Judgment, JudgmentSource, Project
from annotation.reports.dashboard import dashboard
from annotation.selectors.labelers import JudgmentGroup, hidden_groups
from annotation.selectors.reports import report_get, report_item_snippets, report_snippet_ids
from training.models import RunKind, RunStatus, TrainingRun
from training.selectors.constitutions import constitution_shown, latest_constitution, top_principles


def project_group_sizes(project: Project) -> dict[str, int]:
    """Group name -> labelers with a human judgment in `project` counted in that group."""
    resolver = JudgmentGroup()
    labelers: dict[str, set[int]] = defaultdict(set)
    rows = (
        Judgment.objects.filter(item__project=project, source=JudgmentSource.HUMAN)
        .filter(labeler__isnull=False)
        .order_by()
        .values_list("labeler_id", "labeler_group_ids")
        .distinct()
    )
    for labeler_id, recorded in rows:
        group = resolver.resolve(labeler_id, recorded)
        if group:
            labelers[group].add(labeler_id)
    return {g: len(ids) for g, ids in sorted(labelers.items())}


@dataclass(frozen=True)
class PageContext:
    """What a section provider gets: the project and the groups shown (name -> labelers)."""

    project: Project
    groups: dict[str, int]


@dataclass
class Section:
    """One method's view of the groups (see the module doc)."""

    key: str  # a slug, the section's HTML id
    title: str
    template: str  # partial rendered per group with `data` = per_group[group]
    per_group: dict[str, Any]
    about: str = ""  # one line: where the figures come from
    link: tuple[str, str] | None = None  # (label, url) of the source: a run, the report ...
    empty: str = "Nothing yet."
    summary_template: str = ""  # project-wide part, rendered once with `data` = summary
    summary: Any = None
    actions: list[tuple[str, str]] = field(default_factory=list)


SectionProvider = Callable[[PageContext], Section | None]


def pooled_reward_section(ctx: PageContext) -> Section | None:
    """The newest succeeded reward run on the project: its pooled model's held-out accuracy on
    each group's pairs (the run's own small groups left out, as on its page)."""
    run = (
        TrainingRun.objects.filter(kind=RunKind.REWARD, status=RunStatus.SUCCEEDED)
        .filter(projects=ctx.project)
        .order_by("-finished_at", "-id")
        .first()
    )
    if run is None:
        return None
    accuracy = run.final_metrics.get("group_accuracy") or {}
    rows = run.dataset_counts.get("rows_per_group", {})
    shown = set(ctx.groups) - run.hidden_groups
    return Section(
        key="pooled-reward", title="Pooled reward model", template="training/_wp_pooled.html",
        per_group={g: {"accuracy": a, "rows": rows.get(g)} for g, a in accuracy.items() if g in shown},
        about="Held-out accuracy of the model trained on every group's judgments, on this "
        "group's pairs: low means the pooled model does not speak for the group.",
        link=(str(run), reverse("training:run_detail", args=[run.pk])),
        empty="No held-out pairs of this group in the run.",
    )  # fmt: skip


def constitution_section(ctx: PageContext) -> Section | None:
    """The newest succeeded constitution job: each group's top principles with their agreement,
    and the principles that separate two groups."""
    job = latest_constitution(ctx.project)
    if job is None:
        return None
    shown = constitution_shown(job)
    groups = {g: r for g, r in shown.get("groups", {}).items() if g in ctx.groups}
    return Section(
        key="constitution", title="Constitution (Inverse Constitutional AI)",
        template="training/_wp_constitution.html",
        per_group={g: {"top": top_principles(r), **r} for g, r in groups.items()},
        about=f"Principles proposed and judged by {job.llm.get('label', 'the LLM')}; agreement: "
        "how often a judge given only the principle picks what the group picked.",
        empty="No principle reconstructs this group's choices above the threshold.",
        summary_template="training/_wp_separation.html",
        summary={**shown, "separation": [s for s in shown.get("separation", []) if s["a"] in groups and s["b"] in groups], "job": job},
    )  # fmt: skip


def contested_section(ctx: PageContext) -> Section | None:
    """The agreement report's contested items (significantly different vote distributions
    between two groups) that involve each group, linked to the item page."""
    report = report_get(ctx.project)
    payload = report.payload if report else None
    if not payload or "contested" not in payload:
        return None
    snippets = report_item_snippets(ctx.project, report_snippet_ids(payload))
    rows = dashboard(payload, settings.CHORUS_MIN_GROUP_SIZE, snippets)["contested"]
    per_group: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        names = [s["group"] for s in row["sides"]]
        for side in row["sides"]:
            if side["group"] in ctx.groups and all(n in ctx.groups for n in names):
                others = [s for s in row["sides"] if s is not side]
                url = reverse("annotation:report_item", args=[ctx.project.pk, row["item_id"]])
                per_group.setdefault(side["group"], []).append(
                    {**row, "mine": side, "others": others, "url": url}
                )
    return Section(
        key="contested", title="Contested items", template="training/_wp_contested.html",
        per_group=per_group,
        about="Items where this group's votes differ significantly from another group's "
        "(the agreement report, BH-adjusted).",
        link=("Agreement report", reverse("annotation:report_dashboard", args=[ctx.project.pk])),
        empty="No contested item involves this group.",
    )  # fmt: skip


def _latest_reward_run(project: Project, method: str) -> TrainingRun | None:
    """The newest succeeded reward run on `project` trained with `method` ("bt": also the runs
    from before methods, whose config has none)."""
    runs = TrainingRun.objects.filter(
        kind=RunKind.REWARD, status=RunStatus.SUCCEEDED, projects=project
    )
    matching = Q(config__method=method)
    if method == "bt":
        matching |= ~Q(config__has_key="method")
    return runs.filter(matching).order_by("-finished_at", "-id").first()


def conditioned_section(ctx: PageContext) -> Section | None:
    """The newest group-conditioned reward run: its held-out accuracy on each group's pairs
    when told the group, beside the newest pooled (Bradley-Terry) run's on the same group."""
    run = _latest_reward_run(ctx.project, "conditioned")
    if run is None:
        return None
    matrix = run.final_metrics.get("conditioned_matrix") or {}
    pooled = _latest_reward_run(ctx.project, "bt")
    pooled_accuracy = (pooled.final_metrics.get("group_accuracy") or {}) if pooled else {}
    shown = set(ctx.groups) - run.hidden_groups
    per_group = {
        g: {"accuracy": row.get(g), "pooled": pooled_accuracy.get(g) if pooled else None}
        for g, row in matrix.items() if g in shown and row.get(g) is not None
    }  # fmt: skip
    return Section(
        key="conditioned", title="Group-conditioned reward model",
        template="training/_wp_conditioned.html", per_group=per_group,
        about="One model for every group, told which group is judging (a group token): its "
        "held-out accuracy on this group's pairs when conditioned on the group, beside the "
        + (f"pooled model's ({pooled})." if pooled else "pooled model's (none trained yet)."),
        link=(str(run), reverse("training:run_detail", args=[run.pk])),
        empty="No held-out pairs of this group in the run.",
    )  # fmt: skip


def dpl_section(ctx: PageContext) -> Section | None:
    """The newest distributional (DPL) reward run: the mean spread sigma of the pairs each
    group judged, and its highest-sigma pairs that the group voted on, linked to their items."""
    run = _latest_reward_run(ctx.project, "dpl")
    figures = run.final_metrics.get("dpl") if run else None
    if run is None or not figures:
        return None
    shown = set(ctx.groups) - run.hidden_groups
    per_group: dict[str, dict[str, Any]] = {}
    for group, sigma in (figures.get("group_sigma") or {}).items():
        if group in shown:
            top = [p for p in figures.get("top_pairs", []) if group in p["groups"]][:3]
            per_group[group] = {"sigma": sigma, "top": [_dpl_pair(ctx, p, group) for p in top]}
    return Section(
        key="dpl", title="Hidden context (distributional reward model)",
        template="training/_wp_dpl.html", per_group=per_group,
        about="Mean spread sigma of the pairs this group judged (over every group's pairs: "
        f"{_number(figures.get('sigma_mean'))}); a wide spread means a hidden context, such "
        "as group membership, splits the votes. Below, its widest pairs.",
        link=(str(run), reverse("training:run_detail", args=[run.pk])),
        empty="This group judged none of the run's pairs.",
    )  # fmt: skip


def _dpl_pair(ctx: PageContext, pair: dict[str, Any], group: str) -> dict[str, Any]:
    """One of the widest pairs, with this group's votes and its item's page (never another
    group's name: only the pooled split beside the group's own)."""
    item = pair.get("item_id")
    url = reverse("annotation:report_item", args=[ctx.project.pk, item]) if item else ""
    mine = pair["groups"][group]
    return {"sigma": pair["sigma"], "prompt": pair["prompt"], "item_id": item, "url": url,
            "mine": mine, "all": (pair["votes_a"], pair["votes_b"])}  # fmt: skip


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


# The page's sections, in order. Extension point: append providers here.
SECTIONS: list[SectionProvider] = [
    pooled_reward_section, conditioned_section, dpl_section, constitution_section,
    contested_section,
]  # fmt: skip


def whose_preferences(project: Project) -> dict[str, Any]:
    """The page's content: the groups shown (with labelers), how many are hidden, the sections."""
    sizes = project_group_sizes(project)
    hidden = hidden_groups(sizes)
    ctx = PageContext(project, {g: n for g, n in sizes.items() if g not in hidden})
    sections = [s for s in (provider(ctx) for provider in SECTIONS) if s is not None]
    return {
        "groups": [
            {"name": g, "labelers": n, "cells": [(s, s.per_group.get(g)) for s in sections]}
            for g, n in ctx.groups.items()
        ],
        "hidden": len(hidden),
        "min_group_size": settings.CHORUS_MIN_GROUP_SIZE,
        "sections": sections,
    }
