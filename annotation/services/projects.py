from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from annotation.models import Criterion, GuidelineVersion, Project


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
) -> Project:
    project = Project(
        name=name,
        kind=kind,
        description=description,
        ranking_size=ranking_size,
        overlap_target=overlap_target,
        rationale_required=rationale_required,
        created_by=created_by,
        gold_threshold=gold_threshold,
        screening_threshold=screening_threshold,
        screening_min_items=screening_min_items,
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
) -> Criterion:
    criterion = Criterion(
        project=project,
        name=name,
        description=description,
        scale_min=scale_min,
        scale_max=scale_max,
        position=position,
    )
    criterion.full_clean()
    criterion.save()
    return criterion
