"""Projects: create, edit (settings, quotas, a versioned rubric), archive, clone and delete.

Rubric versioning works like the guidelines': ratings point at the criterion rows they were
made on, so an edit never rewrites them. Editing the criteria makes rubric version n+1; a
criterion left exactly as it was keeps its row (its ratings stay comparable); one changed or
dropped is retired (`retired_in = n+1`) if it has ratings, deleted if it has none, and a new
row carries the new definition. Retired criteria are never offered again
(`Project.current_criteria`) but stay readable, with their own scale, for the old judgments.

Lowering the overlap target never deletes a judgment: items that already have more labelers
than the new target count as complete, keep every judgment (reports and exports read them all)
and are handed to nobody else.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from annotation.models import (
    Criterion,
    GroupQuota,
    GuidelineVersion,
    Judgment,
    LabelerGroup,
    Project,
    Reservation,
)

# The settings `project_update` may change; kind and K stay (the items are built for them).
EDITABLE = (
    "name",
    "description",
    "overlap_target",
    "rationale_required",
    "gold_threshold",
    "screening_threshold",
    "screening_min_items",
    "edit_window_minutes",
    "live",  # set by training.services.live.live_config_set
    "red_team",  # only while the project has no judgment (the two questions never mix)
)
# What defines a criterion: a rubric edit that changes any of these makes a new row.
CRITERION_FIELDS = ("description", "scale_min", "scale_max", "options", "positive_option")


@transaction.atomic
def project_create(
    *,
    name: str,
    kind: str,
    guidelines: str,
    created_by: Any = None,
    ranking_size: int = 2,
    overlap_target: int = 3,
    rationale_required: bool = False,
    description: str = "",
    criteria: list[dict[str, Any]] | None = None,
    gold_threshold: float = 0.7,
    screening_threshold: float = 0.8,
    screening_min_items: int = 5,
    edit_window_minutes: int = 10,
    red_team: bool = False,
) -> Project:
    project = Project(
        name=name,
        red_team=red_team,
        kind=kind,
        description=description,
        ranking_size=ranking_size,
        overlap_target=overlap_target,
        rationale_required=rationale_required,
        created_by=created_by,
        gold_threshold=gold_threshold,
        screening_threshold=screening_threshold,
        screening_min_items=screening_min_items,
        edit_window_minutes=edit_window_minutes,
    )
    project.full_clean()
    project.save()
    guidelines_update(project=project, text=guidelines)
    errors: list[str] = []
    for position, spec in enumerate(criteria or []):
        try:
            criterion_create(project=project, position=position, **spec)
        except ValidationError as exc:
            errors.extend(f"criterion {position + 1}: {message}" for message in exc.messages)
    if errors:
        raise ValidationError({"criteria": errors})  # rolls back the project (atomic)
    return project


def guidelines_update(*, project: Project, text: str) -> GuidelineVersion:
    """Save a new guidelines version; judgments made after it record it."""
    with transaction.atomic():
        current = Project.objects.select_for_update().get(pk=project.pk).guideline_versions.first()
        version = GuidelineVersion(
            project=project, version=(current.version + 1) if current else 1, text=text
        )
        version.full_clean()
        version.save()
    return version


def criterion_create(
    *,
    project: Project,
    name: str,
    description: str = "",
    scale_min: int = 1,
    scale_max: int = 7,
    position: int = 0,
    options: list[str] | None = None,
    positive_option: str = "",
    added_in: int = 1,
) -> Criterion:
    criterion = Criterion(
        project=project,
        name=name,
        description=description,
        scale_min=scale_min,
        scale_max=scale_max,
        position=position,
        options=options or [],
        positive_option=positive_option,
        added_in=added_in,
    )
    criterion.full_clean()
    criterion.save()
    return criterion


@transaction.atomic
def project_update(
    *,
    project: Project,
    quotas: dict[int, int] | None = None,
    criteria: list[dict[str, Any]] | None = None,
    **settings: Any,
) -> Project:
    """Change a project's settings (any of EDITABLE), its group quotas (group id -> minimum
    judgments per item; the given mapping replaces them all) and its rubric (the given criteria
    replace the current ones, as a new rubric version when anything differs)."""
    unknown = sorted(set(settings) - set(EDITABLE))
    if unknown:
        raise ValidationError({name: "This setting cannot be changed." for name in unknown})
    project = Project.objects.select_for_update().get(pk=project.pk)
    _red_team_check(project, settings)
    for name, value in settings.items():
        setattr(project, name, value)
    project.full_clean()
    project.save()
    if quotas is not None:
        _quotas_replace(project, quotas)
    _overlap_check(project)
    if criteria is not None and rubric_update(project=project, criteria=criteria):
        project.refresh_from_db(fields=["rubric_version"])
    return project


def _red_team_check(project: Project, settings: dict[str, Any]) -> None:
    """A project's question ("better" or "more harmful") is fixed once someone has answered it."""
    if "red_team" not in settings or bool(settings["red_team"]) == project.red_team:
        return
    if Judgment.objects.filter(item__project=project).exists():
        raise ValidationError(
            {"red_team": "This project already has judgments; red team cannot change now."}
        )


def _quotas_replace(project: Project, quotas: dict[int, int]) -> None:
    wanted = {gid: n for gid, n in quotas.items() if n > 0}
    found = set(LabelerGroup.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    if missing := sorted(set(wanted) - found):
        raise ValidationError({"quotas": f"No such labeler group: {missing[0]}."})
    project.quotas.exclude(group_id__in=wanted).delete()
    for group_id, minimum in wanted.items():
        quota, _ = GroupQuota.objects.get_or_create(project=project, group_id=group_id)
        quota.min_per_item = minimum
        quota.full_clean()
        quota.save()


def _overlap_check(project: Project) -> None:
    reserved = project.quotas.aggregate(total=Sum("min_per_item"))["total"] or 0
    if reserved > project.overlap_target:
        raise ValidationError(
            {
                "overlap_target": f"The group quotas ask for {reserved} judgments per item, more "
                f"than the {project.overlap_target} labelers per item: raise the overlap or "
                "lower the quotas."
            }
        )


def _spec(spec: dict[str, Any]) -> dict[str, Any]:
    options = list(spec.get("options") or [])
    return {
        "description": spec.get("description", ""),
        "scale_min": spec.get("scale_min", 0 if options else 1),
        "scale_max": spec.get("scale_max", len(options) - 1 if options else 7),
        "options": options,
        "positive_option": spec.get("positive_option", ""),
    }


def rubric_update(*, project: Project, criteria: list[dict[str, Any]]) -> bool:
    """Replace the current rubric by `criteria` (name, description, scale_min, scale_max,
    options, positive_option); True when that made a new rubric version (see the module
    docstring). Atomic; the project row is locked."""
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        specs = {str(spec.get("name", "")).strip(): _spec(spec) for spec in criteria}
        if len(specs) != len(criteria):
            raise ValidationError({"criteria": "Two criteria have the same name."})
        current = {c.name: c for c in project.current_criteria()}
        kept = {
            name
            for name, c in current.items()
            if name in specs and {f: getattr(c, f) for f in CRITERION_FIELDS} == specs[name]
        }
        if kept == set(current) == set(specs):
            _positions(project, list(specs))
            return False
        version = project.rubric_version + 1
        for name, criterion in current.items():
            if name in kept:
                continue
            if criterion.ratings.exists():
                criterion.retired_in = version
                criterion.save(update_fields=["retired_in"])
            else:
                criterion.delete()
        errors: list[str] = []
        for position, (name, spec) in enumerate(specs.items()):
            if name in kept:
                continue
            try:
                criterion_create(
                    project=project, name=name, position=position, added_in=version, **spec
                )
            except ValidationError as exc:
                errors.extend(f"criterion {position + 1}: {message}" for message in exc.messages)
        if errors:
            raise ValidationError({"criteria": errors})
        _positions(project, list(specs))
        project.rubric_version = version
        project.save(update_fields=["rubric_version"])
    return True


def _positions(project: Project, names: list[str]) -> None:
    for criterion in project.current_criteria():
        position = names.index(criterion.name)
        if criterion.position != position:
            criterion.position = position
            criterion.save(update_fields=["position"])


def project_archive(*, project: Project, archived: bool = True) -> Project:
    """Archive (labelers lose it from their lists and queues; its open reservations are
    released) or unarchive a project. Its data and pages stay for researchers."""
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        if archived and project.archived_at is None:
            project.archived_at = timezone.now()
            Reservation.objects.filter(item__project=project).delete()
        elif not archived:
            project.archived_at = None
        project.full_clean()
        project.save(update_fields=["archived_at"])
    return project


@transaction.atomic
def project_clone(*, project: Project, name: str, created_by: Any = None) -> Project:
    """A new project with `project`'s settings, current guidelines, current rubric, quotas and
    labeler access, and none of its prompts, items or judgments."""
    project = Project.objects.get(pk=project.pk)  # as saved, whatever the caller holds
    guidelines = project.current_guidelines
    clone = project_create(
        name=name,
        kind=project.kind,
        guidelines=guidelines.text if guidelines else "",
        created_by=created_by,
        ranking_size=project.ranking_size,
        overlap_target=project.overlap_target,
        rationale_required=project.rationale_required,
        description=project.description,
        gold_threshold=project.gold_threshold,
        screening_threshold=project.screening_threshold,
        screening_min_items=project.screening_min_items,
        edit_window_minutes=project.edit_window_minutes,
        criteria=[
            {"name": c.name, **{f: getattr(c, f) for f in CRITERION_FIELDS}}
            for c in project.current_criteria()
        ],
    )
    clone.open_to_all_labelers = project.open_to_all_labelers
    clone.save(update_fields=["open_to_all_labelers"])
    clone.labelers.set(project.labelers.all())
    clone.labeler_groups.set(project.labeler_groups.all())
    GroupQuota.objects.bulk_create(
        GroupQuota(project=clone, group_id=q.group_id, min_per_item=q.min_per_item)
        for q in project.quotas.all()
    )
    return clone


@transaction.atomic
def project_delete(*, project: Project, confirm_name: str) -> None:
    """Delete a project and everything in it (items, judgments, jobs, reports): for good, so
    the caller must type its name. Export it first; training runs keep their frozen datasets."""
    if confirm_name.strip() != project.name:
        raise ValidationError(
            {"confirm_name": "Type the project's name exactly to confirm its deletion."}
        )
    # Judgments first: they protect the guideline versions the project's deletion cascades to.
    Judgment.objects.filter(item__project=project).delete()
    project.delete()
