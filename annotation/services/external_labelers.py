"""External labelers: an imported dataset's annotators, and the judgments they made.

Each annotator of a project's per-annotator import (annotation/formats/annotators/) becomes a
User that cannot log in (inactive, unusable password, no role, so never in a queue or in the
labeler list) with a LabelerProfile naming the project and the dataset's annotator id, whose
attributes came with the dataset (`consent_source` "dataset", recorded when imported). Their
judgments are ordinary labelers' judgments (source "human", the labeler set, `external_source`
naming the dataset) with the groups they belong to recorded at import as the submit path
records them (`selectors.labelers.labeler_group_id_map`, the same membership rule), so
agreement, group reports, exports and per-group training treat them exactly like in-app ones.
Called by `services.imports` inside its transaction, after the items are written.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from annotation.formats.annotators import AnnotatorData
from annotation.formats.base import ImportFileError
from annotation.models import (
    AttributeDefinition,
    ConsentSource,
    Criterion,
    CriterionRating,
    Item,
    Judgment,
    JudgmentRank,
    JudgmentSource,
    LabelerProfile,
    Project,
    attributes_clean,
)
from annotation.selectors.labelers import labeler_group_id_map, labeler_groups_forget


def external_labelers_ensure(
    *, project: Project, annotators: dict[str, dict[str, str]]
) -> dict[str, int]:
    """The project's external labeler (user id) for every annotator id, created when new; their
    attributes are the dataset's (merged over earlier imports' values)."""
    _definitions_ensure({name for values in annotators.values() for name in values})
    profiles = {
        p.external_id: p
        for p in LabelerProfile.objects.filter(external_project=project, external_id__in=annotators)
    }
    for annotator_id, profile in profiles.items():
        profile.attributes = _clean(
            {**profile.attributes, **annotators[annotator_id]}, annotator_id
        )
        profile.save(update_fields=["attributes"])
    new = [a for a in annotators if a not in profiles]
    users = get_user_model().objects.bulk_create([_user(project) for _ in new])
    now = timezone.now()
    labeler_groups_forget()  # bulk_create sends no signal
    LabelerProfile.objects.bulk_create(
        [
            LabelerProfile(
                user=user,
                attributes=_clean(annotators[annotator_id], annotator_id),
                consent_given_at=now,
                consent_source=ConsentSource.DATASET,
                external_project=project,
                external_id=annotator_id[:200],
            )
            for user, annotator_id in zip(users, new, strict=True)
        ]
    )
    return {
        **{a: p.user_id for a, p in profiles.items()},
        **{a: u.pk for a, u in zip(new, users, strict=True)},
    }


def _user(project: Project) -> object:
    user = get_user_model()(
        username=f"external-p{project.pk}-{secrets.token_hex(6)}", is_active=False
    )
    user.set_unusable_password()
    return user


def _clean(attributes: dict[str, str], annotator_id: str) -> dict[str, str]:
    try:
        return attributes_clean(attributes)
    except ValidationError as exc:
        raise ImportFileError(f"annotator {annotator_id!r}: {exc.messages[0]}") from None


def _definitions_ensure(names: set[str]) -> None:
    """An attribute definition (not asked in onboarding) for every attribute a dataset brings."""
    known = set(AttributeDefinition.objects.filter(name__in=names).values_list("name", flat=True))
    for name in sorted(names - known):
        definition = AttributeDefinition(
            name=name,
            question=f"{name.replace('_', ' ').capitalize()} (from an imported dataset)",
            purpose="Provided by an imported dataset for its annotators; used for group analyses.",
            asked=False,
        )
        definition.full_clean()
        definition.save()


def criteria_ensure(*, project: Project, data: AnnotatorData) -> dict[str, Criterion]:
    """A categorical criterion per label column; an existing one must already hold every label."""
    existing = {c.name: c for c in project.current_criteria().filter(name__in=data.criteria)}
    out = {}
    for position, (name, labels) in enumerate(data.criteria.items()):
        criterion = existing.get(name[:100])
        if criterion is not None:
            missing = [label for label in labels if label not in criterion.options]
            if missing:
                raise ImportFileError(
                    f"the project's criterion {name!r} has no label {missing[0]!r}", field=name
                )
        else:
            if len(labels) < 2:
                raise ImportFileError(f"only one label ({labels[0]!r}) in the file", field=name)
            criterion = Criterion(
                project=project,
                name=name[:100],
                scale_min=0,
                scale_max=len(labels) - 1,
                options=labels,
                positive_option=data.positive.get(name, ""),
                position=position,
            )
            criterion.full_clean()
            criterion.save()
        out[name] = criterion
    return out


def external_judgments_write(
    *, project: Project, data: AnnotatorData, items: Sequence[Item], source: str
) -> int:
    """Create the annotators' labelers and write their judgments (with ranks and ratings) on
    `items` (the written `data.items`, in order); returns how many judgments."""
    labelers = external_labelers_ensure(project=project, annotators=data.annotators)
    groups = labeler_group_id_map(labelers.values())
    criteria = criteria_ensure(project=project, data=data) if data.criteria else {}
    saved = Judgment.objects.bulk_create(
        [
            Judgment(
                item=items[j.item],
                source=JudgmentSource.HUMAN,
                labeler_id=labelers[j.annotator],
                external_source=source[:100],
                pairwise_choice=j.choice,
                scale=j.scale,
                display_order=list(range(len(data.items[j.item].completions))),
                labeler_group_ids=groups.get(labelers[j.annotator], []),
            )
            for j in data.judgments
        ]
    )
    pairs = list(zip(saved, data.judgments, strict=True))
    JudgmentRank.objects.bulk_create(
        [
            JudgmentRank(judgment=judgment, position=position, rank=rank)
            for judgment, parsed in pairs
            for position, rank in enumerate(parsed.ranks)
        ]
    )
    CriterionRating.objects.bulk_create(
        [
            CriterionRating(
                judgment=judgment,
                criterion=criteria[name],
                position=0,
                value=criteria[name].options.index(label),
            )
            for judgment, parsed in pairs
            for name, label in parsed.ratings
        ]
    )
    return len(saved)
